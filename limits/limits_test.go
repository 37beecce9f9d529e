package limits

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	size, count := Settings[0], Settings[3]
	for _, c := range []struct {
		s    Setting
		in   string
		want int64
		err  string
	}{
		{size, "64MiB", 64 << 20, ""},
		{size, "10MB", 10_000_000, ""},
		{size, "4096", 4096, ""},
		{size, " 1 KiB ", 1024, ""},
		{size, "0", 0, "want a positive size"},
		{size, "-5", 0, "want a positive size"},
		{size, "ten", 0, "want a positive size"},
		{size, strings.Repeat("9", 80), 0, "…"}, // a long value is cut in the message
		{count, "1000000", 1_000_000, ""},
		{count, "1e6", 1_000_000, ""},
		{count, "0", 0, "positive whole number"},
		{count, "2.5", 0, "positive whole number"},
		{count, "lots", 0, "positive whole number"},
	} {
		got, err := c.s.Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: %d, %v; want an error with %q", c.s.Flag, c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %q: %d, %v; want %d", c.s.Flag, c.in, got, err, c.want)
		}
	}
}

// Set fills unset fields from Default and returns what was in force, so a
// caller (a test) can restore it.
func TestSetGet(t *testing.T) {
	if Get() != Default {
		t.Fatalf("Get before Set = %+v, want Default", Get())
	}
	prev := Set(Limits{Rows: 7})
	if prev != Default {
		t.Errorf("Set returned %+v, want Default", prev)
	}
	got := Get()
	if got.Rows != 7 || got.FileBytes != Default.FileBytes || got.LineBytes != Default.LineBytes || got.DocumentBytes != Default.DocumentBytes {
		t.Errorf("Get after Set(Rows: 7) = %+v", got)
	}
	Set(prev)
	if Get() != Default {
		t.Errorf("after restoring: %+v", Get())
	}
	e := &Exceeded{What: `file "a.csv": line 3 is too long`, Flag: "max-line-length", Max: "4.0 MiB"}
	if want := `file "a.csv": line 3 is too long (limit 4.0 MiB; raise it with --max-line-length or $CAIRN_MAX_LINE_LENGTH)`; e.Error() != want {
		t.Errorf("Exceeded = %q, want %q", e.Error(), want)
	}
}
