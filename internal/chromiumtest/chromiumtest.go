// Package chromiumtest opens an HTML report in headless Chromium (Debian's
// chromium, installed by `make tools`) through the DevTools protocol
// (chromedp) and reports what a person would see: the page's text after its
// scripts ran, console errors and uncaught exceptions, every network request
// other than the page itself, and a screenshot.
package chromiumtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/tooltest"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is what the browser made of a report.
type Page struct {
	Text string // document.body.innerText after the actions
	// Problems are console errors, uncaught exceptions and browser log
	// errors and warnings — a blocked network request among them (the
	// reports' Content-Security-Policy forbids every one).
	Problems   []string
	Screenshot []byte // PNG of the full page
}

// Chromium returns the browser's path, skipping the test when it is missing
// — or failing it when CI requires the real tools (CAIRN_REQUIRE_TOOLS=1).
func Chromium(t testing.TB) string {
	t.Helper()
	return tooltest.Find(t, "make tools: apt-get install --no-install-recommends chromium", "chromium", "chromium-browser", "google-chrome")
}

// Open loads html from a file in a fresh headless browser, runs actions
// (clicks, say) and returns what the page shows afterwards.
func Open(t testing.TB, html []byte, actions ...chromedp.Action[chromedp.Void]) Page {
	t.Helper()
	bin := Chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, html, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	var mu sync.Mutex
	var p Page
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
				msg := "console." + string(e.Type) + ":"
				for _, a := range e.Args {
					msg += " " + string(a.Value) + a.Description
				}
				p.Problems = append(p.Problems, msg)
			}
		case *runtime.EventExceptionThrown:
			p.Problems = append(p.Problems, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				p.Problems = append(p.Problems, "log "+string(e.Entry.Source)+": "+e.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	steps := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate("file://" + file), chromedp.WaitReady("body")}, actions...)
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // let late console events arrive
	mu.Lock()
	defer mu.Unlock()
	p.Text, p.Screenshot = text, shot
	return p
}

// Save writes the screenshot beside the test's other outputs when
// CAIRN_SCREENSHOTS names a directory (CI can keep them as artifacts).
func (p Page) Save(t testing.TB, name string) {
	if dir := os.Getenv("CAIRN_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name+".png"), p.Screenshot, 0o644)
		}
	}
}
