package mailtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, which has python3-aiosmtpd; a
// python3 earlier on PATH (pyenv) does not.
const systemPython = "/usr/bin/python3"

// peerHandler is an aiosmtpd handler: recipients starting "temp" get a
// 4xx at RCPT, "once" a 4xx at their first RCPT only (greylisting),
// "reject" a 5xx, "bigdata" a 552 at the end of DATA; everything else is
// accepted and written to OUTDIR as N.eml with the envelope in N.env.
const peerHandler = `
import os, itertools

class Peer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = itertools.count(1)
        self.greylisted = set()

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(*args)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("temp"):
            return "451 4.3.0 mailbox busy, try later"
        if address.startswith("once") and address not in self.greylisted:
            self.greylisted.add(address)
            return "451 4.7.1 greylisted, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("bigdata") for r in envelope.rcpt_tos):
            return "552 5.3.4 message too big for this mailbox"
        n = next(self.n)
        with open(os.path.join(self.outdir, "%d.eml.tmp" % n), "wb") as f:
            f.write(envelope.original_content)
        with open(os.path.join(self.outdir, "%d.env" % n), "w") as f:
            f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
        os.rename(os.path.join(self.outdir, "%d.eml.tmp" % n), os.path.join(self.outdir, "%d.eml" % n))
        return "250 2.0.0 Ok: queued as Q%d" % n
`

// SMTPPeer is a running aiosmtpd.
type SMTPPeer struct {
	Addr   string
	Port   int
	outdir string
	roots  *x509.CertPool // set when it offers STARTTLS
}

// StartSMTP starts Debian's aiosmtpd on loopback with the handler above;
// tls makes it offer (and require) STARTTLS with a fresh certificate.
func StartSMTP(t testing.TB, withTLS bool) *SMTPPeer {
	mode := ""
	if withTLS {
		mode = "starttls"
	}
	return StartSMTPMode(t, mode)
}

// StartSMTPMode is StartSMTP with a TLS mode: "" none, "starttls", or
// "implicit" (SMTPS, TLS from the first byte).
func StartSMTPMode(t testing.TB, mode string) *SMTPPeer {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		SkipOrFail(t, "no "+systemPython)
	}
	if err := exec.Command(systemPython, "-c", "import aiosmtpd").Run(); err != nil {
		SkipOrFail(t, "Debian's python3-aiosmtpd is not installed (make test-deps)")
	}
	dir := t.TempDir()
	outdir := filepath.Join(dir, "out")
	if err := os.Mkdir(outdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "peer.py"), []byte(peerHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	args := []string{"-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + strconv.Itoa(port), "-c", "peer.Peer"}
	p := &SMTPPeer{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, outdir: outdir}
	switch mode {
	case "starttls":
		cert, key, pool := SelfSigned(t, dir)
		args = append(args, "--tlscert", cert, "--tlskey", key)
		p.roots = pool
	case "implicit":
		cert, key, pool := SelfSigned(t, dir)
		args = append(args, "--smtpscert", cert, "--smtpskey", key)
		p.roots = pool
	}
	args = append(args, outdir)
	cmd := exec.Command(systemPython, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	cmd.Stderr = &testWriter{t: t, prefix: "aiosmtpd: "}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiosmtpd did not listen on %s: %v", p.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SkipOrFail skips a test whose peer is missing, except under CI, which
// installs every peer (make test-deps).
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI installs it: make test-deps)")
	}
	t.Skip(why + "; skipping (make test-deps installs it)")
}

// FreePort is a TCP port free on loopback now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type testWriter struct {
	t      testing.TB
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + string(p))
	return len(p), nil
}

// SelfSigned writes a certificate for 127.0.0.1 and returns its files and
// a pool that trusts it.
func SelfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TLSConfig trusts the peer's certificate.
func (p *SMTPPeer) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS12}
}

// Received waits for the n-th message the peer accepted.
func (p *SMTPPeer) Received(t testing.TB, n int) (eml []byte, envelope string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		eml, err := os.ReadFile(filepath.Join(p.outdir, fmt.Sprintf("%d.eml", n)))
		if err == nil {
			env, _ := os.ReadFile(filepath.Join(p.outdir, fmt.Sprintf("%d.env", n)))
			return eml, string(env)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the peer received no message %d", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Times are when the peer accepted each message, in order.
func (p *SMTPPeer) Times() []time.Time {
	m, _ := filepath.Glob(filepath.Join(p.outdir, "*.eml"))
	var out []time.Time
	for _, f := range m {
		if fi, err := os.Stat(f); err == nil {
			out = append(out, fi.ModTime())
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Count is how many messages the peer accepted.
func (p *SMTPPeer) Count() int {
	m, _ := filepath.Glob(filepath.Join(p.outdir, "*.eml"))
	return len(m)
}
