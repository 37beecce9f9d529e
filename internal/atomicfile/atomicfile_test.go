package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b.txt")
	if err := Write(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "two" {
		t.Fatalf("read %q, %v", data, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "a", ".cairn-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A write into a path whose directory is a file fails and changes nothing.
	if err := Write(filepath.Join(p, "x"), []byte("x"), 0o644); err == nil {
		t.Error("write under a file succeeded")
	}
}
