package mailtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Debian's kannel package installs them here.
const (
	Bearerbox = "/usr/sbin/bearerbox"
	Smsbox    = "/usr/sbin/smsbox"
)

const kannelConf = `group = core
admin-port = %[1]d
admin-password = adminpw
smsbox-port = %[2]d
box-allow-ip = "127.0.0.1"
admin-allow-ip = "127.0.0.1"
log-file = "%[6]s/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = fake
host = 127.0.0.1
port = %[3]d
transceiver-mode = true
smsc-username = dialerd
smsc-password = secret
system-type = "VMA"
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = %[4]d
log-file = "%[6]s/smsbox.log"
log-level = 1
mo-recode = true

group = sendsms-user
username = tester
password = testpw
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "%[5]s/kannel/mo?from=%%p&to=%%P&text=%%a"
`

// Kannel is bearerbox and smsbox running on loopback behind an SMSC.
type Kannel struct {
	SMSC        *SMSC
	SendsmsPort int // smsbox's sendsms-port; sendsms-user tester / testpw
}

// StartKannel runs Debian's bearerbox and smsbox with an SMPP link to a
// new SMSC; smsbox's MO get-url calls callbackURL + "/kannel/mo". It skips
// (fails under CI) when kannel is not installed.
func StartKannel(t testing.TB, callbackURL string) *Kannel {
	t.Helper()
	for _, b := range []string{Bearerbox, Smsbox} {
		if _, err := os.Stat(b); err != nil {
			SkipOrFail(t, "Debian's kannel is not installed (no "+b+")")
		}
	}
	k := &Kannel{SMSC: StartSMSC(t), SendsmsPort: FreePort(t)}
	dir := t.TempDir()
	conf := filepath.Join(dir, "kannel.conf")
	body := fmt.Sprintf(kannelConf, FreePort(t), FreePort(t), k.SMSC.Port(), k.SendsmsPort, callbackURL, dir)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(bin string) {
		cmd := exec.Command(bin, conf)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				for _, f := range []string{"bearerbox.log", "smsbox.log"} {
					b, _ := os.ReadFile(filepath.Join(dir, f))
					t.Logf("%s:\n%s", f, tail(string(b), 4000))
				}
			}
		})
	}
	run(Bearerbox)
	select {
	case <-k.SMSC.Bound:
	case <-time.After(15 * time.Second):
		t.Fatal("bearerbox did not bind to the SMSC")
	}
	run(Smsbox)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.SendsmsPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("smsbox did not open its sendsms port")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// smsbox listens before bearerbox has taken it as a box.
	time.Sleep(300 * time.Millisecond)
	return k
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
