package chromiumtest

import (
	"bytes"
	"strings"
	"testing"
)

const csp = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">`

// The harness sees what it is there to see: a clean page has no problems and
// its text after scripts ran; a console error, an exception and a request the
// page's policy blocks are each reported.
func TestHarness(t *testing.T) {
	p := Open(t, []byte(`<!doctype html><html><head>`+csp+`</head><body><p id=x>static</p><script>document.getElementById("x").textContent = "scripted"</script></body></html>`))
	if len(p.Problems) != 0 || !strings.Contains(p.Text, "scripted") || !bytes.HasPrefix(p.Screenshot, []byte("\x89PNG")) && !bytes.HasPrefix(p.Screenshot, []byte("\xff\xd8")) {
		t.Errorf("clean page: problems %q, text %q, screenshot %d bytes", p.Problems, p.Text, len(p.Screenshot))
	}
	p = Open(t, []byte(`<!doctype html><html><head>`+csp+`</head><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); undefinedFn();</script></body></html>`))
	all := strings.Join(p.Problems, "\n")
	for _, want := range []string{"boom", "exception", "Content Security Policy"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}
