// Package signing signs and verifies report files with SSH keys, in the
// SSHSIG format git and `ssh-keygen -Y sign` use: a detached armored
// signature over the file's bytes in a namespace, checked against an
// OpenSSH allowed_signers file. The format is hiddeco/sshsig's; keys and
// the agent are golang.org/x/crypto/ssh's.
package signing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Namespace is the SSHSIG namespace of cairn's audit reports: a signature
// made for git commits or files does not verify as a report's.
const Namespace = "cairn-audit-report"

// hash is what ssh-keygen -Y sign uses by default.
const hash = sshsig.HashSHA512

// LoadSigner reads KEY as git's user.signingKey does: a private key file
// (unencrypted), or a public key (file, or "ssh-ed25519 AAAA…" literal)
// whose private half is in the ssh-agent listening at agentSock (the
// caller's $SSH_AUTH_SOCK).
func LoadSigner(key, agentSock string) (ssh.Signer, error) {
	data := []byte(key)
	if !strings.HasPrefix(key, "ssh-") && !strings.HasPrefix(key, "ecdsa-") {
		var err error
		if data, err = os.ReadFile(key); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		return agentSigner(pub, agentSock)
	}
	s, err := ssh.ParsePrivateKey(data)
	var pp *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pp):
		return nil, fmt.Errorf("signing key %s is passphrase-protected: add it to ssh-agent (ssh-add) and pass its public key (%s.pub)", key, key)
	case err != nil:
		return nil, fmt.Errorf("signing key %s: neither an SSH private key nor a public key: %w", key, err)
	}
	return s, nil
}

func agentSigner(pub ssh.PublicKey, sock string) (ssh.Signer, error) {
	if sock == "" {
		return nil, errors.New("signing key is a public key, but no ssh-agent is running (SSH_AUTH_SOCK is unset)")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent at %s: %w", sock, err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("ssh-agent holds no private key for %s", ssh.FingerprintSHA256(pub))
}

// Sign returns the armored detached signature of data.
func Sign(s ssh.Signer, data []byte) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(data), s, hash, Namespace)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sshsig.Armor(sig), nil
}

// Fingerprint is a key's SHA256 fingerprint, as ssh-keygen -l prints it.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// AllowedSigner is one line of an allowed_signers file (ssh-keygen(1),
// ALLOWED SIGNERS).
type AllowedSigner struct {
	Principals  []string // patterns
	Namespaces  []string // patterns; empty: any
	ValidAfter  time.Time
	ValidBefore time.Time
	CA          bool
	Key         ssh.PublicKey
	Line        int
}

// ParseAllowedSigners reads an allowed_signers file; a line it cannot read
// is an error naming the line.
func ParseAllowedSigners(name string, data []byte) ([]AllowedSigner, error) {
	var out []AllowedSigner
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest := field(line)
		as := AllowedSigner{Principals: strings.Split(strings.Trim(principals, `"`), ","), Line: n}
		// Options come before the key type; a key type starts with ssh-, ecdsa- or sk-.
		for rest != "" && !isKeyType(rest) {
			var opts string
			opts, rest = field(rest)
			for _, o := range splitOptions(opts) {
				k, v, _ := strings.Cut(o, "=")
				v = strings.Trim(v, `"`)
				var err error
				switch strings.ToLower(k) {
				case "cert-authority":
					as.CA = true
				case "namespaces":
					as.Namespaces = strings.Split(v, ",")
				case "valid-after":
					as.ValidAfter, err = parseSSHTime(v)
				case "valid-before":
					as.ValidBefore, err = parseSSHTime(v)
				default:
					return nil, fmt.Errorf("%s:%d: unknown option %q", name, n, k)
				}
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %s: %w", name, n, k, err)
				}
			}
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: the public key: %w", name, n, err)
		}
		as.Key = key
		out = append(out, as)
	}
	return out, sc.Err()
}

// field splits off the first space-separated field (quotes kept together).
func field(s string) (string, string) {
	inQ := false
	for i, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
		case (r == ' ' || r == '\t') && !inQ:
			return s[:i], strings.TrimSpace(s[i:])
		}
	}
	return s, ""
}

func splitOptions(s string) []string {
	var out []string
	inQ, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
		case r == ',' && !inQ:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-")
}

// parseSSHTime reads YYYYMMDD[HHMM[SS]][Z] (local time unless Z, as ssh-keygen).
func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			return time.ParseInLocation(layout, v, loc)
		}
	}
	return time.Time{}, fmt.Errorf("%q is not YYYYMMDD[HHMM[SS]][Z]", v)
}

func match(patterns []string, s string) bool {
	ok := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if m, _ := path.Match(strings.TrimPrefix(p, "!"), s); m {
			if neg {
				return false
			}
			ok = true
		}
	}
	return ok
}

// Verified is who signed, per the allowed signers.
type Verified struct {
	Principal   string
	Fingerprint string
}

// Verify checks an armored signature of data against the allowed signers
// at time at: the key must be listed for identity (any principal when
// identity is empty), for the namespace, and valid at that time.
func Verify(data, armored []byte, signers []AllowedSigner, identity string, at time.Time) (Verified, error) {
	sig, err := sshsig.Unarmor(armored)
	if err != nil {
		return Verified{}, fmt.Errorf("not an SSH signature: %w", err)
	}
	if sig.Namespace != Namespace {
		return Verified{}, fmt.Errorf("the signature is for namespace %q, not %q", sig.Namespace, Namespace)
	}
	fp := Fingerprint(sig.PublicKey)
	var why []string
	for _, as := range signers {
		if as.CA || !bytes.Equal(as.Key.Marshal(), sig.PublicKey.Marshal()) {
			continue
		}
		principal := ""
		for _, p := range as.Principals {
			if identity == "" || match([]string{p}, identity) {
				principal = p
				if identity != "" {
					principal = identity
				}
				break
			}
		}
		switch {
		case principal == "":
			why = append(why, fmt.Sprintf("line %d lists the key for %s, not %s", as.Line, strings.Join(as.Principals, ","), identity))
			continue
		case len(as.Namespaces) > 0 && !match(as.Namespaces, Namespace):
			why = append(why, fmt.Sprintf("line %d allows namespaces %s, not %s", as.Line, strings.Join(as.Namespaces, ","), Namespace))
			continue
		case !as.ValidAfter.IsZero() && at.Before(as.ValidAfter):
			why = append(why, fmt.Sprintf("line %d is valid after %s", as.Line, as.ValidAfter.Format(time.RFC3339)))
			continue
		case !as.ValidBefore.IsZero() && !at.Before(as.ValidBefore):
			why = append(why, fmt.Sprintf("line %d expired at %s", as.Line, as.ValidBefore.Format(time.RFC3339)))
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(data), sig, sig.PublicKey, sig.HashAlgorithm, Namespace); err != nil {
			return Verified{}, fmt.Errorf("the signature by %s does not match the file: %w", fp, err)
		}
		return Verified{Principal: principal, Fingerprint: fp}, nil
	}
	if len(why) == 0 {
		why = []string{"no line lists it"}
	}
	return Verified{}, fmt.Errorf("key %s is not an allowed signer: %s", fp, strings.Join(why, "; "))
}
