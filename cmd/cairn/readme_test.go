package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeCommandBlocks runs every ```sh block of the README (blocks
// marked "sh norun" need a server or run the test suite itself) with the
// cairn built from this tree first on PATH, in a scratch directory: the
// README's commands must match the CLI.
func TestReadmeCommandBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if len(blocks) == 0 {
		t.Fatal("the README has no runnable sh block")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "cairn"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for i, b := range blocks {
		dir := t.TempDir()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "CAIRN_STATE=", "CAIRN_ACTOR=readme",
			"GITHUB_TOKEN=", "OPENAI_API_KEY=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README sh block %d failed: %v\n--- block\n%s--- output\n%s", i+1, err, b, out)
		}
	}
}
