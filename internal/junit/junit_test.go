package junit

import (
	"bytes"
	"encoding/xml"
	"testing"
)

func TestWrite(t *testing.T) {
	suites := Suites{Name: "r", Suites: []Suite{
		{Name: "s1", Cases: []Case{
			{Name: "ok", Classname: "c"},
			{Name: "bad", Classname: "c", File: "f.cue", Line: 3, Failure: &Problem{Message: `m "q"`, Type: "deny", Text: "a\nb"}},
			{Name: "err", Classname: "c", Error: &Problem{Message: "e"}},
			{Name: "skip", Classname: "c", Skipped: &Problem{Message: "w"}},
			{Name: "warn", Classname: "c", SystemOut: "<w>"},
		}},
		{Name: "empty"},
	}}
	const body = `    <testcase name="ok" classname="c"></testcase>
    <testcase name="bad" classname="c" file="f.cue" line="3">
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
`
	for _, tc := range []struct {
		name string
		c    Counters
		want string
	}{
		{"all", Counters{All, All}, `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="r" tests="5" failures="1" errors="1" skipped="1">
  <testsuite name="s1" tests="5" failures="1" errors="1" skipped="1">
` + body + `  <testsuite name="empty" tests="0" failures="0" errors="0" skipped="0"></testsuite>
</testsuites>
`},
		{"some", Counters{Root: Tests | Failures, Suite: Errors}, `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="r" tests="5" failures="1">
  <testsuite name="s1" errors="1">
` + body + `  <testsuite name="empty" errors="0"></testsuite>
</testsuites>
`},
		{"none", Counters{}, `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="r">
  <testsuite name="s1">
` + body + `  <testsuite name="empty"></testsuite>
</testsuites>
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, suites, tc.c); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := Suites{Suites: []Suite{{Name: "s", Cases: []Case{{Name: "a", Failure: &Problem{Message: "x"}}, {Name: "b"}}}}}
	if err := Write(&b, in, Counters{All, All}); err != nil {
		t.Fatal(err)
	}
	var out Suites
	if err := xml.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Tests != 2 || out.Failures != 1 || len(out.Suites) != 1 || out.Suites[0].Cases[0].Failure.Message != "x" {
		t.Errorf("read back %+v", out)
	}
}
