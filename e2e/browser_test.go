package e2e_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/task"
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

// screenshotDir is where the browser tests leave their screenshots
// (git-ignored): desktop and phone widths of each page they look at.
func screenshotDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium; each tab is a page.
type browser struct {
	t      *testing.T
	alloc  context.Context
	cancel context.CancelFunc
	first  context.Context // the first tab's context: new tabs open beside it
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
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
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, alloc: alloc, cancel: cancel}
	t.Cleanup(cancel)
	return b
}

// tab is one page of the web app.
type tab struct {
	t   *testing.T
	ctx context.Context
	e   *env
}

// open opens a tab on the web app; phone emulates a phone's screen.
func (b *browser) open(e *env, phone bool) *tab {
	b.t.Helper()
	parent := b.alloc
	if b.first != nil {
		parent = b.first // a new tab in the same browser
	}
	ctx, cancel := chromedp.NewContext(parent)
	if b.first == nil {
		b.first = ctx
	}
	b.t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	b.t.Cleanup(cancelT)
	tb := &tab{t: b.t, ctx: ctx, e: e}
	if phone {
		tb.do("a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}
	tb.do("opening the page", chromedp.Navigate(e.api+"/"))
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.shot("failure")
		tb.t.Fatalf("browser, %s: %v", what, err)
	}
}

// eval runs JavaScript in the page.
func (tb *tab) eval(what, js string) {
	tb.t.Helper()
	tb.do(what, chromedp.Evaluate[chromedp.Void](js))
}

// until polls a JavaScript condition until it holds. A navigation that
// replaces the page's JavaScript context while a poll runs in it ends that
// poll with "Cannot find context with specified id"; the poll then starts
// again in the new page, within the same deadline.
func (tb *tab) until(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if contextReplaced(err) && time.Until(deadline) > 0 {
			continue
		}
		tb.shot("failure")
		tb.t.Fatalf("browser, waiting %v for %s: %v", timeout, what, err)
	}
}

// contextReplaced tells an evaluation that failed because the page
// navigated meanwhile.
func contextReplaced(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("browser, reading %s: %v", sel, err)
	}
	return s
}

// shot saves a screenshot of the whole page.
func (tb *tab) shot(name string) {
	b, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(screenshotDir(tb.t), name+".png"), b, 0o644)
}

// signIn signs in with the development sign-in and waits for the list.
func (tb *tab) signIn(user string) {
	tb.t.Helper()
	tb.do("signing in", chromedp.WaitVisible(chromedp.CSS("#dev-user")), chromedp.SetValue(chromedp.CSS("#dev-user"), user),
		chromedp.Click(chromedp.CSS("#dev-signin button[type=submit]")))
	tb.until("the stream to be live", `document.getElementById("conn").dataset.state === "live"`, 30*time.Second)
}

// input sets a form control's value as a person typing would (events fire).
func (tb *tab) input(sel, value string) {
	tb.t.Helper()
	tb.do("typing into "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	tb.eval("telling the page", `(() => { const el = document.querySelector(`+jsString(sel)+`);
		el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); })()`)
}

// word is a random word of letters, which no quick-add rule reads as a date.
func word() string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'g' + (r - '0')
		}
		return r
	}, strings.ReplaceAll(uuid.NewString(), "-", "")[:6])
}

func rowWith(title string) string {
	return `[...document.querySelectorAll("#tasks li")].find(li => li.querySelector(".title").textContent === ` + jsString(title) + `)`
}

// TestWebAppRunsADay drives the web app in headless Chromium as a person
// would: signs in, creates a weekly series in the editor and sees its
// first instance, is told next to the field when a rule is wrong,
// completes the instance in one tab and sees it struck through in another
// within 2 s, gets a reminder's toast and snoozes it, deletes with undo,
// and reads a task's history with its verified chain. Screenshots at
// desktop and phone widths go to e2e/screenshots.
func TestWebAppRunsADay(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	e.notifierReady(t, e.stack.App("notifier").URL)
	b := newBrowser(t)
	user := "web-" + uuid.NewString()[:8]
	a := b.open(e, false)
	a.signIn(user)

	// A weekly series, through the full editor, with a reminder; a bad
	// rule first: the API's error shows next to the rule field.
	series := "Team stand-up " + uuid.NewString()[:4]
	due := time.Now().Add(36 * time.Hour)
	a.do("opening the editor", chromedp.Click(chromedp.CSS("#details")), chromedp.WaitVisible(chromedp.CSS("#f-title")))
	a.input("#f-title", series)
	a.input("#f-due_date", due.Format("2006-01-02"))
	a.input("#f-due_time", "09:30")
	a.input("#f-recurrence_preset", "custom")
	a.input("#f-recurrence_pattern", "FREQ=FORTNIGHTLY;BYDAY=MO")
	a.until("the rule's error next to it", `!document.getElementById("err-recurrence_pattern").hidden &&
		document.getElementById("f-recurrence_pattern").getAttribute("aria-invalid") === "true"`, 10*time.Second)
	if got := a.text("#err-recurrence_pattern"); !strings.Contains(strings.ToUpper(got), "FREQ") {
		t.Fatalf("the rule's error says %q", got)
	}
	a.eval("showing the error", `document.getElementById("err-recurrence_pattern").scrollIntoView({block: "center"})`)
	a.shot("editor-error-desktop")
	a.input("#f-recurrence_preset", "weekly")
	a.do("adding a reminder", chromedp.Click(chromedp.CSS(".reminders button.link")))
	a.input(".reminder input", "15m")
	a.until("the preview of the next occurrences", `document.getElementById("preview").textContent.includes("Next:") &&
		document.getElementById("err-recurrence_pattern").hidden`, 10*time.Second)
	a.eval("showing the preview", `document.getElementById("preview").scrollIntoView({block: "center"})`)
	a.shot("editor-series-desktop")
	a.do("saving", chromedp.Click(chromedp.CSS("#save")))
	a.until("the editor to close", `!document.getElementById("editor").open`, 10*time.Second)
	a.do("the Upcoming view", chromedp.Click(chromedp.CSS(`button[data-view=upcoming]`)))
	a.until("the series' first instance", rowWith(series)+` !== undefined`, 10*time.Second)
	a.do("the Recurring view", chromedp.Click(chromedp.CSS(`button[data-view=series]`)))
	a.until("the series itself", rowWith(series)+`?.textContent.includes("weekly")`, 10*time.Second)
	a.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	a.until("the instance in All", rowWith(series)+` !== undefined`, 10*time.Second)

	// A second tab of the same person: a change in one shows in the other.
	bTab := b.open(e, false)
	bTab.signIn(user)
	bTab.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	bTab.until("the instance in tab B", rowWith(series)+` !== undefined`, 10*time.Second)
	a.eval("completing it in tab A", rowWith(series)+`.querySelector(".check").click()`)
	start := time.Now()
	bTab.until("the instance struck through in tab B", rowWith(series)+`?.classList.contains("done") === true`, 2*time.Second)
	t.Logf("a completion in tab A showed in tab B after %v", time.Since(start).Round(time.Millisecond))
	a.until("it struck through in tab A", rowWith(series)+`?.classList.contains("done") === true`, 5*time.Second)

	// Quick add from the keyboard: n, a title, Enter.
	quick := "Buy oat milk " + word()
	a.do("pressing n", pressKey("n", "KeyN", 78))
	a.until("the quick-add box to have the focus", `document.activeElement.id === "quick-title"`, 5*time.Second)
	a.do("typing a title and Enter", chromedp.KeyEvent(quick), chromedp.KeyEvent("\r"))
	a.until("the quick task", rowWith(quick)+` !== undefined`, 10*time.Second)
	bTab.until("the quick task in tab B", rowWith(quick)+` !== undefined`, 5*time.Second)

	// Quick add reads a sentence, and shows what it understood as it is typed.
	plants := "Water the plants " + word()
	a.do("focusing quick add", chromedp.Click(chromedp.CSS("#quick-title")))
	a.do("typing a sentence", chromedp.KeyEvent(plants+" tomorrow at 7pm, remind me 1 hour before #garden !high"))
	a.until("the live preview", `(() => { const p = document.getElementById("quick-preview");
		return !p.hidden && p.querySelector(".qa-title")?.textContent === `+jsString(plants)+` &&
			["Due", "#garden", "high priority", "1 hour before"].every(s => p.textContent.includes(s)); })()`, 10*time.Second)
	a.shot("quickadd-preview-desktop")
	a.do("Enter", chromedp.KeyEvent("\r"))
	a.until("the task the sentence made", rowWith(plants)+`?.textContent.includes("garden") && document.getElementById("quick-preview").hidden`, 10*time.Second)
	var made struct{ Items []task.Task }
	e.as(t, user).must(200, "GET", "/api/v1/tasks?q="+url.QueryEscape(plants), nil).decode(t, &made)
	if len(made.Items) != 1 || made.Items[0].Priority != task.PriorityHigh || made.Items[0].DueDate == nil ||
		made.Items[0].DueDate.In(time.Local).Hour() != 19 || len(made.Items[0].Reminders) != 1 {
		t.Errorf("the quick-added task: %+v", made.Items)
	}

	// A reminder that fires in a few seconds: a toast, and snooze from it.
	c := e.as(t, user)
	remind := "Take the bread out " + uuid.NewString()[:4]
	c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": remind,
		"reminders": []map[string]any{{"at": time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)}}})
	a.until("the reminder's toast", `[...document.querySelectorAll(".toast.reminder")].some(t => t.textContent.includes(`+jsString(remind)+`))`, 30*time.Second)
	a.shot("reminder-toast-desktop")
	// The overview for the README: the list with the series' instance, the
	// reminder's toast, and the instance's history beside them.
	a.eval("opening the instance's history", rowWith(series)+`.querySelector(".actions button:nth-child(2)").click()`)
	a.until("its timeline", `document.querySelectorAll("#history .timeline .event").length >= 2 &&
		document.querySelector("#history .verify")?.classList.contains("ok")`, 20*time.Second)
	a.eval("dismissing older toasts", `document.querySelectorAll(".toast:not(.reminder) button.icon").forEach(b => b.click())`)
	a.shot("overview-desktop")
	a.do("closing the history with Escape", pressKey("Escape", "Escape", 27))
	a.until("the drawer to close", `!document.getElementById("history").open`, 5*time.Second)
	a.eval("snoozing", `[...document.querySelectorAll(".toast.reminder")].find(t => t.textContent.includes(`+jsString(remind)+`)).querySelector("button.link").click()`)
	a.until("the snooze to be confirmed", `[...document.querySelectorAll(".toast")].some(t => t.textContent.startsWith("Snoozed until"))`, 10*time.Second)
	var snoozed []alarm
	eventually(t, 10*time.Second, "the reminder pending again", func() bool {
		var tasks struct{ Items []struct{ ID, Title string } }
		c.must(200, "GET", "/api/v1/tasks?q="+strings.ReplaceAll(remind, " ", "%20"), nil).decode(t, &tasks)
		if len(tasks.Items) != 1 {
			return false
		}
		snoozed = c.alarms(uuid.MustParse(tasks.Items[0].ID))
		return len(snoozed) == 1 && snoozed[0].Status == "pending" && time.Until(snoozed[0].TriggerAt) > 8*time.Minute
	})

	// Delete with undo: undone, the task stays; not undone, it goes.
	a.eval("deleting the quick task", rowWith(quick)+`.querySelector(".actions .danger").click()`)
	a.until("it to leave the list", rowWith(quick)+` === undefined`, 5*time.Second)
	a.eval("undoing", `[...document.querySelectorAll(".toast")].find(t => t.textContent.includes("Deleted")).querySelector("button.link").click()`)
	a.until("it to come back", rowWith(quick)+` !== undefined`, 5*time.Second)
	a.eval("deleting it for good", rowWith(quick)+`.querySelector(".actions .danger").click()`)
	bTab.until("tab B to see it gone (after the undo window)", rowWith(quick)+` === undefined`, 15*time.Second)
	var gone struct{ Items []struct{ Title string } }
	c.must(200, "GET", "/api/v1/tasks?status=all&q="+strings.ReplaceAll(quick, " ", "%20"), nil).decode(t, &gone)
	if len(gone.Items) != 0 {
		t.Fatalf("the deleted task is still there: %+v", gone.Items)
	}

	// History: the instance's timeline lists its changes, chain verified.
	a.eval("opening the history", rowWith(series)+`.querySelector(".actions button:nth-child(2)").click()`)
	a.until("the verified chain", `document.querySelector("#history .verify")?.classList.contains("ok")`, 20*time.Second)
	a.until("the timeline", `document.querySelectorAll("#history .timeline .event").length >= 2`, 20*time.Second)
	timeline := a.text("#history .timeline")
	for _, want := range []string{"created the task", "completed it", "completed"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q: %s", want, timeline)
		}
	}
	a.shot("history-desktop")
	a.do("closing the history", chromedp.Click(chromedp.CSS("#history header button")))
	a.shot("list-desktop")

	// Phone width: the same person's list, editor and history.
	p := b.open(e, true)
	p.signIn(user)
	p.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	p.until("the list", rowWith(remind)+` !== undefined`, 10*time.Second)
	p.shot("list-phone")
	p.do("opening the editor", chromedp.Click(chromedp.CSS("#details")), chromedp.WaitVisible(chromedp.CSS("#f-title")))
	p.shot("editor-phone")
	p.do("closing it", chromedp.Click(chromedp.CSS("#editor header button")))
	p.do("focusing quick add", chromedp.Click(chromedp.CSS("#quick-title")))
	p.do("typing a sentence", chromedp.KeyEvent("Pay rent on the 1st of every month at 9am, remind me a day before #home !high"))
	p.until("the live preview", `(() => { const q = document.getElementById("quick-preview");
		return !q.hidden && q.querySelector(".qa-title")?.textContent === "Pay rent" && q.textContent.includes("monthly on day 1"); })()`, 10*time.Second)
	p.shot("quickadd-preview-phone")
	p.eval("clearing it", `(() => { const q = document.getElementById("quick-title"); q.value = ""; q.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	p.do("the Completed view", chromedp.Click(chromedp.CSS(`button[data-view=completed]`)))
	p.until("the completed instance", rowWith(series)+` !== undefined`, 10*time.Second)
	p.eval("opening the history", rowWith(series)+`.querySelector(".actions button:nth-child(2)").click()`)
	p.until("the timeline", `document.querySelectorAll("#history .timeline .event").length >= 2`, 20*time.Second)
	p.shot("history-phone")
	if got := a.text("#conn"); got != "Live" {
		t.Errorf("tab A's stream is %q at the end", got)
	}
}

// TestWebAppSeriesOperationShowsProgress edits a series as a whole: the
// workflow's progress shows until it is done, and the open instances
// take the change.
func TestWebAppSeriesOperationShowsProgress(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	e.notifierReady(t, e.stack.App("notifier").URL)
	user := "web-" + uuid.NewString()[:8]
	c := e.as(t, user)
	title := "Practice " + uuid.NewString()[:4]
	due := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	s := c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": title, "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=SECONDLY;COUNT=3"}).task(t)
	c.waitInstances(s.ID, 3)

	b := newBrowser(t)
	a := b.open(e, false)
	a.signIn(user)
	a.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	a.until("the instances", `[...document.querySelectorAll("#tasks .title")].filter(e => e.textContent === `+jsString(title)+`).length === 3`, 15*time.Second)
	a.eval("editing one", rowWith(title)+`.querySelector(".actions button").click()`)
	a.do("the editor", chromedp.WaitVisible(chromedp.CSS("#f-title")))
	renamed := title + " (renamed)"
	a.input("#f-title", renamed)
	a.eval("choosing the whole series", `document.querySelector('input[name=scope][value=series]').click()`)
	a.do("saving", chromedp.Click(chromedp.CSS("#save")))
	a.until("the operation's progress, then its end", `[...document.querySelectorAll(".toast")].some(t => /Updating the series: done/.test(t.textContent))`, 60*time.Second)
	a.until("every instance renamed", `[...document.querySelectorAll("#tasks .title")].filter(e => e.textContent === `+jsString(renamed)+`).length === 3`, 15*time.Second)
}

// pressKey presses one key as a keyboard does: a keyDown carrying its
// text (whose default action, typing it, the page may prevent), then keyUp.
// chromedp's KeyEvent types the character in a separate event that no
// handler can prevent, which no real keyboard does.
func pressKey(key, code string, vk int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			ev := input.DispatchKeyEventParams{Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk}
			if typ == input.DispatchKeyEventTypeKeyDown && len([]rune(key)) == 1 {
				ev.Text, ev.UnmodifiedText = key, key
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWebAppReconnects: when the notifier goes away the page says it is
// reconnecting, and once it is back the page resumes after the last event
// it saw (Last-Event-ID): a task created meanwhile appears without a
// reload. (The notifier restarts in the shared stack: no e2e test runs in
// parallel.)
func TestWebAppReconnects(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	e.notifierReady(t, e.stack.App("notifier").URL)
	user := "web-" + uuid.NewString()[:8]
	c := e.as(t, user)
	b := newBrowser(t)
	a := b.open(e, false)
	a.signIn(user)
	a.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	seen := "Seen live " + uuid.NewString()[:4]
	c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": seen})
	a.until("the task seen live", rowWith(seen)+` !== undefined`, 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.stack.StopApp(ctx, "notifier", false); err != nil {
		t.Fatal(err)
	}
	a.until("the reconnecting state", `document.getElementById("conn").dataset.state === "reconnecting"`, 10*time.Second)
	if got := a.text("#conn"); got != "Reconnecting…" {
		t.Errorf("the status reads %q", got)
	}
	missed := "Created while away " + uuid.NewString()[:4]
	c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": missed})
	a.shot("reconnecting-desktop")
	if err := e.stack.StartApp(ctx, "notifier", nil); err != nil {
		t.Fatal(err)
	}
	a.until("the stream to be live again", `document.getElementById("conn").dataset.state === "live"`, 30*time.Second)
	a.until("the missed task, replayed", rowWith(missed)+` !== undefined`, 15*time.Second)
}

// TestWebAppScrollsThroughPages: a long list loads a page at a time as
// the person scrolls (the API's cursor), and the counts say how many.
func TestWebAppScrollsThroughPages(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	user := "web-" + uuid.NewString()[:8]
	c := e.as(t, user)
	const n = 120
	for i := range n {
		c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Item " + strconv.Itoa(i)})
	}
	b := newBrowser(t)
	a := b.open(e, false)
	a.signIn(user)
	a.do("the All view", chromedp.Click(chromedp.CSS(`button[data-view=all]`)))
	a.until("the count", `document.querySelector('[data-count=all]').textContent === "120"`, 10*time.Second)
	a.until("the first page", `document.querySelectorAll("#tasks li").length >= 50`, 10*time.Second)
	if got := a.count("#tasks li"); got >= n {
		t.Fatalf("%d rows before scrolling: the list did not page", got)
	}
	// Scroll to the end at every poll (every 200 ms) until every page is in.
	if _, err := chromedp.Run(a.ctx, chromedp.Poll[bool](`(window.scrollTo(0, document.body.scrollHeight), document.querySelectorAll("#tasks li").length === 120)`,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("scrolling through the pages: %d rows: %v", a.count("#tasks li"), err)
	}
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		tb.t.Fatal(err)
	}
	return n
}

// TestWebAppOpsPage: an operator's token opens /ops, which shows the apps
// with their sidecars, the outbox, reminders, operations and dead letters;
// the tasks page links to it only for operators; a normal
// user at /ops is told the page is not theirs. Screenshots at desktop and
// phone widths go to e2e/screenshots.
func TestWebAppOpsPage(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	admin, err := auth.Mint([]byte(auth.DevSecret), "ops-"+uuid.NewString(), auth.MintOptions{TTL: time.Hour, Roles: []string{"taskflow-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := auth.Mint([]byte(auth.DevSecret), "alice-"+uuid.NewString(), auth.MintOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	for _, phone := range []bool{false, true} {
		a := b.open(e, phone)
		a.eval("signing in as an operator", `sessionStorage.setItem("taskflow.token", `+jsString(admin)+`)`)
		a.do("opening the tasks page", chromedp.Navigate(e.api+"/"))
		a.until("the ops link for an operator", `!document.getElementById("ops-link").hidden`, 30*time.Second)
		if href := a.text("#ops-link"); href != "Ops" {
			t.Fatalf("ops link %q", href)
		}
		a.do("following it", chromedp.Navigate(e.api+"/ops"))
		a.until("the four apps with their sidecars", `document.querySelectorAll("#ops-apps .app-card").length === 4 &&
			[...document.querySelectorAll("#ops-apps .app-card h3")].map(h => h.firstChild.textContent.trim()).sort().join() === "actors,api,auditor,notifier"`, 60*time.Second)
		for _, id := range []string{"#ops-outbox", "#ops-reminders", "#ops-operations", "#ops-dead-letters"} {
			a.until(id, `!!document.querySelector(`+jsString(id)+`)`, 10*time.Second)
		}
		if got := a.text("#ops-apps"); !strings.Contains(got, "placement") || !strings.Contains(got, "TaskActor") || !strings.Contains(got, "1.18.0") {
			t.Fatalf("apps section: %q", got)
		}
		if got := a.text("#ops-outbox"); !strings.Contains(got, "auditor") {
			t.Fatalf("outbox section without the auditor's consumer group: %q", got)
		}
		name := "ops-desktop"
		if phone {
			name = "ops-phone"
		}
		a.shot(name)
	}

	u := b.open(e, false)
	u.eval("signing in as a user", `sessionStorage.setItem("taskflow.token", `+jsString(user)+`)`)
	u.do("opening the tasks page", chromedp.Navigate(e.api+"/"))
	u.until("the stream to be live", `document.getElementById("conn").dataset.state === "live"`, 30*time.Second)
	if n := u.count("#ops-link:not([hidden])"); n != 0 {
		t.Fatalf("a normal user sees the ops link")
	}
	u.do("opening /ops", chromedp.Navigate(e.api+"/ops"))
	u.until("the refusal", `(document.querySelector("#ops .form-error") || {}).textContent === "This page is for operators: your token does not carry the admin role."`, 30*time.Second)
	if n := u.count("#ops-apps"); n != 0 {
		t.Fatalf("a normal user sees the apps")
	}
}
