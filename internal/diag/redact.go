package diag

import (
	"regexp"
	"strings"
)

// secretPatterns match credentials by shape (the same shapes the no_secrets
// policy denies). A message that quotes a user's value passes through Redact
// before anyone sees it, so a key pasted into a spec is never printed back.
var secretPatterns = regexp.MustCompile(strings.Join([]string{
	`\bsk-(?:(?:proj|svcacct|admin|ant)-)?[A-Za-z0-9_-]{16,}`,
	`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,})`,
	`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`,
	`\bAIza[0-9A-Za-z_-]{35}`,
	`\bxox[abposr]-[A-Za-z0-9-]{10,}`,
	`\bhf_[A-Za-z0-9]{30,}`,
	`\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`,
	`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[^"]*`,
	`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}`,
}, "|"))

// passwordInURL keeps scheme and user, hides the password.
var passwordInURL = regexp.MustCompile(`\b([a-z][a-z0-9+.-]*://[^/\s:@"]+:)[^/\s@"]+@`)

// Redact replaces anything shaped like a credential with its first four
// characters and a marker.
func Redact(s string) string {
	if !mayHoldSecret(s) { // most messages: a few substring checks instead of a regex
		return s
	}
	s = secretPatterns.ReplaceAllStringFunc(s, func(m string) string {
		keep := 4
		if len(m) < keep {
			keep = len(m)
		}
		return m[:keep] + "…[redacted]"
	})
	return passwordInURL.ReplaceAllString(s, "$1[redacted]@")
}

// markers are literal parts every secret pattern contains ("gh" also
// begins "github_pat_"); a string with none of them cannot match.
var markers = []string{"sk-", "gh", "AKIA", "ASIA", "AIza", "xox", "hf_", "eyJ", "PRIVATE KEY", "://"}

func mayHoldSecret(s string) bool {
	for _, m := range markers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return containsBearer(s) // the one case-insensitive pattern
}

// containsBearer reports whether s holds "bearer" in any case, as
// strings.Contains(strings.ToLower(s), "bearer") does without the copy (no
// character outside ASCII lowers to one of its letters).
func containsBearer(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i]|0x20 == 'b' && strings.EqualFold(s[i:i+6], "bearer") {
			return true
		}
	}
	return false
}

// LooksSecret reports whether s contains something shaped like a credential.
func LooksSecret(s string) bool {
	return secretPatterns.MatchString(s) || passwordInURL.MatchString(s)
}

// secretKinds names each credential shape, in the words the no_secrets
// policy uses; SecretKind reports the first that matches.
var secretKinds = []struct {
	name string
	re   *regexp.Regexp
}{
	{"an OpenAI API key", regexp.MustCompile(`\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20,})`)},
	{"an Anthropic API key", regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{"a GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`)},
	{"an AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"a Hugging Face token", regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
	{"a private key", regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)},
	{"a password in a URL", regexp.MustCompile(`\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
	{"a bearer token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}`)},
}

// SecretKind names the kind of credential s contains ("" when none), and
// the column (1-based, in bytes) where it starts.
func SecretKind(s string) (kind string, col int) {
	if !mayHoldSecret(s) {
		return "", 0
	}
	for _, k := range secretKinds {
		if loc := k.re.FindStringIndex(s); loc != nil {
			return k.name, loc[0] + 1
		}
	}
	return "", 0
}
