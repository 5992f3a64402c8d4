#!/usr/bin/env bash
# The package test (make test-package): builds the .deb, unpacks it into a
# scratch root, checks its files, modes, owners and conffiles, runs its
# postinst there (DPKG_ROOT: the dialerd user and the modes of /etc/dialerd
# are made inside the scratch root, the host is not touched), then
# systemd-analyze verify and security on the installed unit. Outside CI a
# missing dpkg-deb or systemd-analyze skips it with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

# The exposure systemd-analyze security gave the unit before packaging (1.4):
# hardening may only improve.
MAX_EXPOSURE=1.4

for tool in dpkg-deb systemd-analyze; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ -n "${CI:-}" ]; then
			echo "test-package: FAIL: $tool is missing (make test-deps installs it)" >&2
			exit 1
		fi
		echo "test-package: SKIP: $tool is missing (Debian: apt-get install dpkg systemd)"
		exit 0
	fi
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
deb=$scratch/dialerd.deb
root=$scratch/root
ctl=$scratch/control
fail=0
bad() { echo "test-package: FAIL: $*" >&2; fail=1; }

echo "test-package: make deb"
${MAKE:-make} --no-print-directory deb DEB="$deb" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; exit 1; }
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$ctl"

# Every file with its mode and owner, and nothing else. dpkg-deb -c prints
# "mode owner/group size date time path".
want="drwxr-x--- root/root ./etc/dialerd/
-rw-r----- root/root ./etc/dialerd/dialerd.yaml
-rwxr-xr-x root/root ./usr/bin/dialerd
-rw-r--r-- root/root ./usr/lib/systemd/system/dialerd.service
-rw-r--r-- root/root ./usr/lib/sysusers.d/dialerd.conf
-rw-r--r-- root/root ./usr/lib/tmpfiles.d/dialerd.conf
-rw-r--r-- root/root ./usr/share/doc/dialerd/README.md"
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ || $6 == "./etc/dialerd/" {print $1, $2, $6}' | LC_ALL=C sort -k3)
if [ "$got" != "$want" ]; then
	bad "package contents differ:"$'\n'"$(diff <(echo "$want") <(echo "$got"))"
fi
dirs=$(dpkg-deb -c "$deb" | awk '$1 ~ /^d/ && $6 != "./etc/dialerd/" && $1 != "drwxr-xr-x" {print $1, $6}')
[ -z "$dirs" ] || bad "directories not 0755: $dirs"

[ "$(cat "$ctl/conffiles")" = /etc/dialerd/dialerd.yaml ] || bad "conffiles: $(cat "$ctl/conffiles")"
for f in postinst prerm postrm; do
	[ -x "$ctl/$f" ] || bad "no executable $f"
	sh -n "$ctl/$f" || bad "$f is not valid sh"
done
for field in Package:\ dialerd Architecture: Version:\ 0 Installed-Size: Description:; do
	grep -q "^$field" "$ctl/control" || bad "control has no $field"
done
cmp -s "$root/etc/dialerd/dialerd.yaml" configs/dialerd.yaml || bad "dialerd.yaml is not configs/dialerd.yaml"
grep -qx 'ExecStart=/usr/bin/dialerd --config /etc/dialerd/dialerd.yaml' "$root/usr/lib/systemd/system/dialerd.service" || bad "ExecStart is not /usr/bin/dialerd"
doc=$(sed -n 's|^Documentation=file:||p' "$root/usr/lib/systemd/system/dialerd.service")
[ -f "$root$doc" ] || bad "Documentation= names $doc, which the package does not install"

# The binary runs and accepts the shipped configuration.
"$root/usr/bin/dialerd" version >/dev/null || bad "dialerd version fails"
if "$root/usr/bin/dialerd" help | grep -q '^  *config check'; then
	"$root/usr/bin/dialerd" config check "$root/etc/dialerd/dialerd.yaml" >/dev/null || bad "dialerd config check rejects the shipped configuration"
fi

# The postinst inside the scratch root: the user, then owners and modes.
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null 2>&1; then
	DPKG_ROOT=$root sh "$ctl/postinst" configure "" || bad "postinst configure failed"
	uid=$(awk -F: '$1 == "dialerd" {print $3}' "$root/etc/passwd" 2>/dev/null)
	gid=$(awk -F: '$1 == "dialerd" {print $3}' "$root/etc/group" 2>/dev/null)
	if [ -z "$uid" ] || [ -z "$gid" ]; then
		bad "postinst made no dialerd user and group in the scratch root"
	else
		for check in "etc/dialerd 750 0:$gid" "etc/dialerd/dialerd.yaml 640 0:$gid" "var/lib/dialerd 750 $uid:$gid"; do
			set -- $check
			st=$(stat -c '%a %u:%g' "$root/$1" 2>/dev/null || echo missing)
			[ "$st" = "$2 $3" ] || bad "/$1 is $st, want $2 $3 (root or dialerd = $uid:$gid)"
		done
	fi
else
	echo "test-package: not root or no systemd-sysusers: the postinst is not run in the scratch root"
fi

# systemd-analyze on the installed unit, with the scratch root as /. The
# targets and slices every host has (sysinit.target, system.slice, …) are
# copied in beside it; verify then checks the unit, its ExecStart inside the
# scratch root and its Documentation= URL, and prints nothing when all hold.
echo "test-package: systemd-analyze verify --root on the installed unit"
for unitdir in /usr/lib/systemd/system /lib/systemd/system; do
	if [ -d "$unitdir" ]; then
		find "$unitdir" -maxdepth 1 \( -name '*.target' -o -name '*.slice' \) -exec cp -an {} "$root/usr/lib/systemd/system/" \;
	fi
done
if ! out=$(systemd-analyze verify --root="$root" /usr/lib/systemd/system/dialerd.service 2>&1) || [ -n "$out" ]; then
	bad "systemd-analyze verify:"$'\n'"$out"
fi
exposure=$(systemd-analyze security --offline=true --root="$root" dialerd.service 2>&1 | sed -n 's/.*Overall exposure level for dialerd.service: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
	bad "systemd-analyze security gave no exposure level"
elif ! awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
	bad "systemd-analyze security: exposure $exposure, above $MAX_EXPOSURE"
fi

if [ "$fail" != 0 ]; then
	exit 1
fi
echo "test-package: ok ($(basename "$(dpkg-deb -f "$deb" Package)")_$(dpkg-deb -f "$deb" Version), exposure $exposure)"
