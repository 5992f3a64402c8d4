#!/usr/bin/env bash
# The package test (make test-package): builds the .deb and checks its
# files, modes, owners and conffiles; installs it with dpkg --root into a
# scratch root (as root: the maintainer scripts run with DPKG_ROOT, so the
# dialerd user and the modes of /etc/dialerd are made inside the scratch
# root and the host is not touched; otherwise it is unpacked with dpkg -x);
# runs systemd-analyze verify and security on the installed unit; then
# removes and purges it there. Outside CI a missing dpkg-deb or
# systemd-analyze skips it with a message.
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
dpkg-deb -e "$deb" "$ctl"
# dpkg --root as root; as another user the scripts could not chown.
dpkg_root() {
	dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-not-root "$@"
}
installed=
if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null 2>&1 && command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
	touch "$root/var/lib/dpkg/status"
	echo "test-package: dpkg --root $root -i"
	dpkg_root -i "$deb" >"$scratch/install.log" 2>&1 || { cat "$scratch/install.log" >&2; exit 1; }
	installed=yes
else
	echo "test-package: not root: unpacked with dpkg -x, the maintainer scripts are not run"
	dpkg-deb -x "$deb" "$root"
fi

# Every file with its mode and owner, and nothing else. dpkg-deb -c prints
# "mode owner/group size date time path".
want="drwxr-x--- root/root ./etc/dialerd/
-rw-r----- root/root ./etc/dialerd/dialerd.yaml
-rwxr-xr-x root/root ./usr/bin/dialerctl
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

# The binaries run and dialerd accepts the shipped configuration.
"$root/usr/bin/dialerd" version >/dev/null || bad "dialerd version fails"
ctlhelp=$("$root/usr/bin/dialerctl" --help 2>&1) || bad "dialerctl --help fails: $ctlhelp"
grep -q 'campaigns' <<<"$ctlhelp" || bad "dialerctl --help lists no campaigns command: $ctlhelp"
if "$root/usr/bin/dialerd" help | grep -q '^  *config check'; then
	"$root/usr/bin/dialerd" config check "$root/etc/dialerd/dialerd.yaml" >/dev/null || bad "dialerd config check rejects the shipped configuration"
fi

# What the postinst made inside the scratch root: the user, owners, modes.
if [ -n "$installed" ]; then
	dpkg_root -s dialerd | grep -q '^ /etc/dialerd/dialerd.yaml [0-9a-f]*$' || bad "dpkg does not record /etc/dialerd/dialerd.yaml as a conffile"
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

# Removal keeps the configuration; purging removes it and keeps the data.
if [ -n "$installed" ]; then
	echo "test-package: dpkg --root -r, then -P"
	dpkg_root -r dialerd >"$scratch/remove.log" 2>&1 || { cat "$scratch/remove.log" >&2; bad "dpkg -r failed"; }
	[ ! -e "$root/usr/bin/dialerd" ] || bad "dpkg -r left /usr/bin/dialerd"
	[ ! -e "$root/usr/bin/dialerctl" ] || bad "dpkg -r left /usr/bin/dialerctl"
	[ -f "$root/etc/dialerd/dialerd.yaml" ] || bad "dpkg -r removed the configuration"
	dpkg_root -P dialerd >"$scratch/purge.log" 2>&1 || { cat "$scratch/purge.log" >&2; bad "dpkg -P failed"; }
	[ ! -e "$root/etc/dialerd" ] || bad "dpkg -P left /etc/dialerd"
	[ -d "$root/var/lib/dialerd" ] || bad "dpkg -P removed /var/lib/dialerd (the database)"
fi

if [ "$fail" != 0 ]; then
	exit 1
fi
echo "test-package: ok ($(basename "$(dpkg-deb -f "$deb" Package)")_$(dpkg-deb -f "$deb" Version), exposure $exposure)"
