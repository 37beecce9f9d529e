package diag

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, mustNot string }{
		{`conflicting values "OPENAI_API_KEY" and "sk-proj-AbCdEf1234567890AbCdEf1234567890"`, "AbCdEf1234567890"},
		{`value "sk-abcdefghijklmnopqrstuvwxyz123456" is bad`, "abcdefghijklmnop"},
		{`token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB`, "0123456789abcdef"},
		{`AKIAIOSFODNN7EXAMPLE in namespace`, "IOSFODNN7EXAMPLE"},
		{`base_url "https://bob:hunter2secret@example.com/v1"`, "hunter2secret"},
		{`"-----BEGIN RSA PRIVATE KEY-----\nMIIEow..."`, "MIIEow"},
		{`Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123`, "abcdefghijklmnopqrstuvwxyz"},
		{`authorization: BeArEr abcdefghijklmnopqrstuvwxyz0123`, "abcdefghijklmnopqrstuvwxyz"},
	} {
		got := Redact(c.in)
		if strings.Contains(got, c.mustNot) || !strings.Contains(got, "[redacted]") {
			t.Errorf("Redact(%q) = %q", c.in, got)
		}
	}
	for _, ok := range []string{`unknown field "taks"`, `OPENAI_API_KEY`, `sk-short`, `https://example.com/v1`, `models/fraud-detector`} {
		if Redact(ok) != ok {
			t.Errorf("Redact(%q) changed harmless text to %q", ok, Redact(ok))
		}
	}
}

func BenchmarkRedactClean(b *testing.B) {
	line := `specs/models-003.cue:12:3: deny owners: models/m-0301 owner "@acme/team-3" is not a team or user handle (Owners must be GitHub handles) [models/m-0301.owner]` + "\n"
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if Redact(line) != line {
			b.Fatal("changed")
		}
	}
}

// The prefilter never lets through what the patterns would match: on every
// secret shape and on random text around them, a string that LooksSecret
// also mayHoldSecret; and containsBearer is the lowered search it replaces.
func TestPrefilterAdmitsEverySecret(t *testing.T) {
	secrets := []string{
		"sk-proj-AbCdEf1234567890AbCdEf1234567890", "sk-ant-api03-AbCdEf1234567890AbCd", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
		"github_pat_0123456789abcdefghijklmnop", "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE", "AIzaSyA-0123456789abcdefghijklmnopqrstu",
		"xoxb-0123456789-abcdef", "hf_abcdefghijklmnopqrstuvwxyz0123456", "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4",
		"-----BEGIN EC PRIVATE KEY-----", "https://bob:hunter2@example.com", "BEARER abcdefghijklmnopqrstuvwxyz", "bEaReR abcdefghijklmnopqrstuvwxyz",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("abcABC 019:/_-.\"'éİKſ\u212a\n")
	noise := func() string {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 2000 {
		s := noise() + secrets[rng.IntN(len(secrets))] + noise()
		if LooksSecret(s) && !mayHoldSecret(s) {
			t.Fatalf("%q looks secret but the prefilter skips it", s)
		}
		n := noise() + []string{"bearer", "BEARER", "Bearer", "bearEr", "beare", "b\u212aearer", ""}[rng.IntN(7)] + noise()
		if got, want := containsBearer(n), strings.Contains(strings.ToLower(n), "bearer"); got != want {
			t.Fatalf("containsBearer(%q) = %v, want %v", n, got, want)
		}
	}
}
