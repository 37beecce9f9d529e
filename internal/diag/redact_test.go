package diag

import (
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
