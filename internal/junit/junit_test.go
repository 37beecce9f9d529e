package junit

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/cairn-dev/cairn/internal/junit/junittest"
)

var sample = Suites{Name: "r", Suites: []Suite{
	{Name: "s1", Cases: []Case{
		{Name: "ok", Classname: "c"},
		{Name: "f.cue:3", Classname: "c", Failure: &Problem{Message: `m "q"`, Type: "deny", Text: "a\nb"}},
		{Name: "err", Classname: "c", Error: &Problem{Message: "e"}},
		{Name: "skip", Classname: "c", Skipped: &Problem{Message: "w"}},
		{Name: "warn", Classname: "c", SystemOut: "<w>"},
	}},
	{Name: "empty"},
}}

func TestWrite(t *testing.T) {
	const want = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="r" tests="5" failures="1" errors="1">
  <testsuite name="s1" tests="5" failures="1" errors="1" skipped="1">
    <testcase name="ok" classname="c"></testcase>
    <testcase name="f.cue:3" classname="c">
      <failure message="m &#34;q&#34;" type="deny">a&#xA;b</failure>
    </testcase>
    <testcase name="err" classname="c">
      <error message="e"></error>
    </testcase>
    <testcase name="skip" classname="c">
      <skipped message="w"></skipped>
    </testcase>
    <testcase name="warn" classname="c">
      <system-out>&lt;w&gt;</system-out>
    </testcase>
  </testsuite>
  <testsuite name="empty" tests="0" failures="0" errors="0" skipped="0"></testsuite>
</testsuites>
`
	var b bytes.Buffer
	if err := Write(&b, sample); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	var back Suites
	if err := xml.Unmarshal(b.Bytes(), &back); err != nil || back.Tests != 5 || back.Suites[0].Skipped != 1 {
		t.Errorf("read back: %+v, %v", back, err)
	}
}

// Jenkins validates JUnit reports against the xunit plugin's junit-10.xsd:
// the output must pass xmllint with it, and a report with what the schema
// forbids must not (so the check can fail).
func TestJenkinsSchema(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample); err != nil {
		t.Fatal(err)
	}
	junittest.Valid(t, "Write", b.Bytes())
	for name, bad := range map[string][]byte{
		"file and line on a testcase": bytes.Replace(b.Bytes(), []byte(`<testcase name="ok" classname="c">`), []byte(`<testcase name="ok" classname="c" file="f.cue" line="3">`), 1),
		"skipped on the root":         bytes.Replace(b.Bytes(), []byte(`<testsuites name="r"`), []byte(`<testsuites skipped="1" name="r"`), 1),
		"a suite without errors":      bytes.Replace(b.Bytes(), []byte(`tests="0" failures="0" errors="0"`), []byte(`tests="0" failures="0"`), 1),
	} {
		if _, err := junittest.Validate(junittest.XMLLint(t), bad); err == nil {
			t.Errorf("xmllint accepts %s: the check cannot fail", name)
		}
	}
}
