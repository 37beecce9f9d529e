package signing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cairn-dev/cairn/internal/tooltest"
)

// keys are one private key of each kind ssh-keygen signs with, written as
// OpenSSH private key files.
func keys(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	out := map[string]string{}
	for name, k := range map[string]any{"ed25519": ed, "ecdsa": ec, "rsa": rs} {
		blk, err := ssh.MarshalPrivateKey(k, "")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

func allowedLine(t *testing.T, principal, opts string, s ssh.Signer) string {
	t.Helper()
	l := principal + " "
	if opts != "" {
		l += opts + " "
	}
	return l + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// TestSignVerify: every key kind signs; cairn and ssh-keygen -Y verify
// accept the signature, and both refuse it after a one-byte change.
func TestSignVerify(t *testing.T) {
	keygen := tooltest.Find(t, "apt-get install openssh-client (make tools)", "ssh-keygen")
	report := []byte("# Compliance report: credit-scoring\n\n| Art 9 | evidenced |\n")
	for name, path := range keys(t) {
		t.Run(name, func(t *testing.T) {
			s, err := LoadSigner(path, "")
			if err != nil {
				t.Fatal(err)
			}
			sig, err := Sign(s, report)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(sig), "-----BEGIN SSH SIGNATURE-----") {
				t.Fatalf("not armored: %q", sig[:40])
			}
			dir := t.TempDir()
			allowed := allowedLine(t, "risk-lead@acme.example", `namespaces="cairn-audit-report"`, s) + "\n"
			signers, err := ParseAllowedSigners("allowed_signers", []byte(allowed))
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(report, sig, signers, "risk-lead@acme.example", time.Now())
			if err != nil || v.Principal != "risk-lead@acme.example" || v.Fingerprint != Fingerprint(s.PublicKey()) {
				t.Fatalf("Verify = %+v, %v", v, err)
			}
			// ssh-keygen accepts the same files.
			write := func(n string, b []byte) string {
				p := filepath.Join(dir, n)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			as, sigPath := write("allowed_signers", []byte(allowed)), write("report.md.sig", sig)
			verify := func(data []byte) ([]byte, error) {
				cmd := exec.Command(keygen, "-Y", "verify", "-f", as, "-I", "risk-lead@acme.example", "-n", Namespace, "-s", sigPath)
				cmd.Stdin = strings.NewReader(string(data))
				return cmd.CombinedOutput()
			}
			if out, err := verify(report); err != nil {
				t.Fatalf("ssh-keygen -Y verify refused cairn's signature: %v\n%s", err, out)
			}
			// One byte changed: both refuse.
			tampered := append([]byte{}, report...)
			tampered[len(tampered)-3] = 'X'
			if _, err := Verify(tampered, sig, signers, "risk-lead@acme.example", time.Now()); err == nil || !strings.Contains(err.Error(), "does not match the file") {
				t.Errorf("cairn accepted a changed file: %v", err)
			}
			if out, err := verify(tampered); err == nil {
				t.Errorf("ssh-keygen accepted a changed file:\n%s", out)
			}
		})
	}
}

// TestSSHKeygenSignatureVerifies: a signature ssh-keygen -Y sign made is
// one cairn verifies (the two agree on the format both ways).
func TestSSHKeygenSignatureVerifies(t *testing.T) {
	keygen := tooltest.Find(t, "apt-get install openssh-client (make tools)", "ssh-keygen")
	path := keys(t)["ed25519"]
	data := []byte("report bytes\n")
	file := filepath.Join(t.TempDir(), "r.md")
	os.WriteFile(file, data, 0o644)
	if out, err := exec.Command(keygen, "-Y", "sign", "-f", path, "-n", Namespace, file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(file + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := LoadSigner(path, "")
	signers, _ := ParseAllowedSigners("a", []byte(allowedLine(t, "*@acme.example", "", s)))
	if v, err := Verify(data, sig, signers, "ops@acme.example", time.Now()); err != nil || v.Principal != "ops@acme.example" {
		t.Fatalf("Verify(ssh-keygen's signature) = %+v, %v", v, err)
	}
}

// TestAllowedSignersOptions: the principal, namespaces=, valid-after and
// valid-before of the allowed signers line decide, each with its reason.
func TestAllowedSignersOptions(t *testing.T) {
	s, err := LoadSigner(keys(t)["ed25519"], "")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("x")
	sig, _ := Sign(s, data)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, principal, opts, identity, want string
	}{
		{"listed", "a@acme.example", "", "a@acme.example", ""},
		{"any principal when no identity", "a@acme.example", "", "", ""},
		{"another identity", "a@acme.example", "", "b@acme.example", "lists the key for a@acme.example, not b@acme.example"},
		{"namespace not allowed", "a@acme.example", `namespaces="git"`, "", "allows namespaces git, not cairn-audit-report"},
		{"namespace pattern", "a@acme.example", `namespaces="cairn-*,git"`, "", ""},
		{"not yet valid", "a@acme.example", `valid-after="20270101Z"`, "", "is valid after 2027-01-01"},
		{"expired", "a@acme.example", `valid-before="20261201Z"`, "", "expired at 2026-12-01"},
		{"window", "a@acme.example", `valid-after="20261101Z",valid-before="20270101000000Z"`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers, err := ParseAllowedSigners("allowed_signers", []byte("# team\n\n"+allowedLine(t, tc.principal, tc.opts, s)+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(data, sig, signers, tc.identity, at)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A key nobody listed, and a signature for another namespace.
	other, _ := LoadSigner(keys(t)["ecdsa"], "")
	signers, _ := ParseAllowedSigners("a", []byte(allowedLine(t, "a@acme.example", "", other)))
	if _, err := Verify(data, sig, signers, "", at); err == nil || !strings.Contains(err.Error(), "no line lists it") {
		t.Errorf("unlisted key: %v", err)
	}
	// Malformed files name the line.
	for in, want := range map[string]string{
		"a@x ssh-ed25519 notbase64":                                 "allowed_signers:1: the public key",
		"a@x bogus=1 " + allowedLine(t, "", "", s)[1:]:              `allowed_signers:1: unknown option "bogus"`,
		"a@x valid-after=\"2026\" " + allowedLine(t, "", "", s)[1:]: "allowed_signers:1: valid-after",
	} {
		if _, err := ParseAllowedSigners("allowed_signers", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAllowedSigners(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestAgentSigner: a public key whose private half is in ssh-agent signs
// through the agent (git's user.signingKey), and without an agent the
// error says so.
func TestAgentSigner(t *testing.T) {
	path := keys(t)["ed25519"]
	raw, _ := os.ReadFile(path)
	priv, err := ssh.ParseRawPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(kr, c)
		}
	}()
	direct, _ := LoadSigner(path, "")
	pub := string(ssh.MarshalAuthorizedKey(direct.PublicKey()))
	s, err := LoadSigner(pub, sock)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(s, []byte("r"))
	if err != nil {
		t.Fatal(err)
	}
	signers, _ := ParseAllowedSigners("a", []byte(allowedLine(t, "a@x", "", direct)))
	if _, err := Verify([]byte("r"), sig, signers, "a@x", time.Now()); err != nil {
		t.Fatalf("the agent's signature: %v", err)
	}
	if _, err := LoadSigner(pub, ""); err == nil || !strings.Contains(err.Error(), "no ssh-agent") {
		t.Errorf("no agent: %v", err)
	}
	other, _ := LoadSigner(keys(t)["rsa"], "")
	if _, err := LoadSigner(string(ssh.MarshalAuthorizedKey(other.PublicKey())), sock); err == nil || !strings.Contains(err.Error(), "holds no private key") {
		t.Errorf("a key the agent lacks: %v", err)
	}
}

// TestLoadSignerErrors: a passphrase-protected key says to use the agent,
// a file that is no key says so, a missing file names it.
func TestLoadSignerErrors(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(ed, "", []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "id_ed25519")
	os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	for path, want := range map[string]string{
		enc:                           "is passphrase-protected: add it to ssh-agent (ssh-add) and pass its public key",
		junk:                          "neither an SSH private key nor a public key",
		filepath.Join(dir, "missing"): "signing key: open " + filepath.Join(dir, "missing"),
	} {
		if _, err := LoadSigner(path, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadSigner(%s) = %v, want %q", filepath.Base(path), err, want)
		}
	}
}
