package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/specgen"
)

// BenchmarkCheckAfterEdit is the pull-request loop on the large repo: a
// check with the cache warm after one model's owner changed, against a full
// check without a cache and a check where nothing changed, in one process
// (a fresh `cairn check` adds the process's start and the printing;
// `make bench-peers` times those). It reports each in seconds and the
// ratios to the full check.
func BenchmarkCheckAfterEdit(b *testing.B) {
	dir := b.TempDir()
	if err := specgen.Write(dir, specgen.Large); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	check := func(opts CheckOptions) time.Duration {
		opts.Now = now
		start := time.Now()
		c, err := Check(ctx, dir, opts)
		if err != nil || !c.Compiled() {
			b.Fatalf("check: %v", err)
		}
		return time.Since(start)
	}
	warm := CheckOptions{CacheDir: b.TempDir(), CacheSalt: "bench"}
	check(warm)
	f := filepath.Join(dir, "specs", "models-003.cue")
	src, err := os.ReadFile(f)
	if err != nil {
		b.Fatal(err)
	}
	var full, edit, same time.Duration
	i := 0
	for b.Loop() {
		i++
		full += check(CheckOptions{})
		edited := strings.Replace(string(src), "@acme/team-", fmt.Sprintf("@acme/edit%d-", i), 1)
		if err := os.WriteFile(f, []byte(edited), 0o644); err != nil {
			b.Fatal(err)
		}
		edit += check(warm)
		same += check(warm)
	}
	n := float64(i)
	b.ReportMetric(full.Seconds()/n, "full-s")
	b.ReportMetric(edit.Seconds()/n, "edit-s")
	b.ReportMetric(same.Seconds()/n, "same-s")
	b.ReportMetric(edit.Seconds()/full.Seconds(), "edit-x-full")
	b.ReportMetric(same.Seconds()/full.Seconds(), "same-x-full")
}
