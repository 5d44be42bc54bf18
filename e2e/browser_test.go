package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// chromiumPath is Debian's chromium (make test installs it).
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run `make test` (it installs Debian's chromium) or set CHROMIUM")
	return ""
}

// TestBrowserShowsNotificationsLive drives the page in headless Chromium:
// mint a token, connect, create a task through the API; its notification
// appears in the page, and so does a reminder firing.
func TestBrowserShowsNotificationsLive(t *testing.T) {
	e := sharedEnv(t)
	nurl := e.stack.App("notifier").URL
	e.notifierReady(t, nurl)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	user := "browser-" + uuid.NewString()[:8]
	title := "Buy flowers " + uuid.NewString()[:6]
	remind := "Call back " + uuid.NewString()[:6]
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}
	until := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("browser, waiting for %s: %v", what, err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser, reading %s: %v", sel, err)
		}
		return s
	}

	do("opening the page", chromedp.Navigate(e.api+"/?notifier="+nurl))
	do("minting a token", chromedp.SetValue(chromedp.ID("user"), user), chromedp.Click(chromedp.ID("mint")))
	until("the token", `document.getElementById("token").value.length > 20`)
	do("connecting", chromedp.Click(chromedp.ID("connect")))
	until("the stream to be live", `document.getElementById("status").textContent === "live"`)

	do("creating a task", chromedp.SetValue(chromedp.ID("title"), title), chromedp.Click(chromedp.ID("create")))
	until("its notification", `document.querySelector('#notifications li[data-type="task.created"]') !== null`)
	if got := text(`#notifications li[data-type="task.created"]`); !strings.Contains(got, title) {
		t.Fatalf("notification %q, want the task %q", got, title)
	}
	until("the task in the list", `[...document.querySelectorAll("#tasks li")].some(li => li.textContent.includes(`+jsString(title)+`))`)

	// A task whose reminder fires in 2 s: the firing shows up too.
	do("creating a task with a reminder", chromedp.SetValue(chromedp.ID("title"), remind), chromedp.SetValue(chromedp.ID("remind"), "2"),
		chromedp.Click(chromedp.ID("create")))
	until("the reminder notification", `document.querySelector('#notifications li[data-type="task.reminder.triggered"]') !== null`)
	if got := text(`#notifications li[data-type="task.reminder.triggered"]`); !strings.Contains(got, remind) {
		t.Fatalf("reminder notification %q, want %q", got, remind)
	}
	if got := text("#error"); got != "" {
		t.Fatalf("the page shows an error: %q", got)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
