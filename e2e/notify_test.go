package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

type sseEvent struct {
	ID, Event, Data string
}

// stream is an SSE client of the notifier.
type stream struct {
	resp   *http.Response
	events chan sseEvent
}

func openStream(t testing.TB, baseURL, token, lastID string) (*stream, int) {
	t.Helper()
	q := url.Values{"access_token": {token}}
	if lastID != "" {
		q.Set("last_event_id", lastID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", baseURL+"/api/v1/notifications/stream?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	s := &stream{resp: resp, events: make(chan sseEvent, 1000)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return s, 200
}

func (s *stream) close() { s.resp.Body.Close() }

// waitFor returns the first event that matches, skipping others.
func (s *stream) waitFor(t testing.TB, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitForAll waits until each matcher has matched an event, in any order.
func (s *stream) waitForAll(t testing.TB, what string, matches ...func(sseEvent) bool) {
	t.Helper()
	left := slices.Clone(matches)
	deadline := time.After(30 * time.Second)
	for len(left) > 0 {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended waiting for %s", what)
			}
			left = slices.DeleteFunc(left, func(m func(sseEvent) bool) bool { return m(ev) })
		case <-deadline:
			t.Fatalf("timed out waiting for %s: %d of %d not received", what, len(left), len(matches))
		}
	}
}

func titled(typ task.EventType, title string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		if ev.Event != string(typ) {
			return false
		}
		var body task.Event
		return json.Unmarshal([]byte(ev.Data), &body) == nil && body.Task.Title == title
	}
}

var notifierWarm sync.Map // notifier URL -> struct{}

// notifierReady waits until the notifier at baseURL delivers events: its
// Kafka consumer group starts at the newest offset once it has joined.
func (e *env) notifierReady(t testing.TB, baseURL string) {
	t.Helper()
	if _, ok := notifierWarm.Load(baseURL); ok {
		return
	}
	c := e.as(t, "warmup-"+uuid.NewString())
	s, _ := openStream(t, baseURL, c.token, "")
	defer s.close()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		title := "warm-up " + uuid.NewString()
		c.must(201, "POST", "/api/v1/tasks", map[string]any{"title": title})
		timeout := time.After(time.Second)
		for {
			select {
			case ev := <-s.events:
				if titled(task.EventCreated, title)(ev) {
					notifierWarm.Store(baseURL, struct{}{})
					return
				}
				continue
			case <-timeout:
			}
			break
		}
	}
	t.Fatal("the notifier delivered nothing within 60s")
}

// TestNotificationStream: a user's events reach their stream and nobody
// else's; streams are limited per user; a reconnect resumes after the last
// event it saw; an id too old to resume asks for a resync.
func TestNotificationStream(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	nurl := e.stack.App("notifier").URL
	e.notifierReady(t, nurl)
	alice, bob := e.as(t, "alice-"+uuid.NewString()), e.as(t, "bob-"+uuid.NewString())
	as, _ := openStream(t, nurl, alice.token, "")
	bs, _ := openStream(t, nurl, bob.token, "")

	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "for alice"})
	first := as.waitFor(t, "alice's task.created", titled(task.EventCreated, "for alice"))
	bob.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "for bob"})
	if ev := bs.waitFor(t, "bob's first task event", func(ev sseEvent) bool { return strings.HasPrefix(ev.Event, "task.") }); !titled(task.EventCreated, "for bob")(ev) {
		t.Fatalf("bob received %+v", ev)
	}

	// At most 3 streams per user (alice has one).
	for range 2 {
		if _, code := openStream(t, nurl, alice.token, ""); code != 200 {
			t.Fatalf("stream refused: %d", code)
		}
	}
	if _, code := openStream(t, nurl, alice.token, ""); code != 429 {
		t.Fatalf("4th stream: %d, want 429", code)
	}

	// Away for a while: what happened meanwhile is replayed.
	as.close()
	var missed []string
	for _, title := range []string{"while away 1", "while away 2"} {
		tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": title}).task(t)
		missed = append(missed, tk.ID.String())
	}
	e.events.wait(t, missed[1], 1)                                                  // both are on the topic
	eventually(t, 30*time.Second, "alice's earlier streams to close", func() bool { // the limit counts open streams
		s, code := openStream(t, nurl, alice.token, first.ID)
		if code != 200 {
			return false
		}
		// Two tasks' events have no order between them (they may sit on
		// different partitions): both must come, in either order.
		s.waitForAll(t, "the missed events", titled(task.EventCreated, "while away 1"), titled(task.EventCreated, "while away 2"))
		return true
	})
	// An id that cannot be resumed (unknown, or purged long ago): resync.
	old, code := openStream(t, nurl, bob.token, uuid.NewString())
	if code != 200 {
		t.Fatalf("stream with an unknown Last-Event-ID: %d", code)
	}
	old.waitFor(t, "resync", func(ev sseEvent) bool { return ev.Event == "resync" })
}

// TestNotifierInstances: with two notifier instances, a user connected to
// either receives every event; an instance shutting down tells its
// streams to reconnect.
func TestNotifierInstances(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{replicas: map[string]int{"notifier": 2}})
	insts := e.stack.Instances("notifier")
	for _, in := range insts {
		e.notifierReady(t, in.URL)
	}
	alice := e.as(t, "alice-"+uuid.NewString())
	s0, _ := openStream(t, insts[0].URL, alice.token, "")
	s1, _ := openStream(t, insts[1].URL, alice.token, "")
	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "everywhere"})
	s0.waitFor(t, "the event on instance 0", titled(task.EventCreated, "everywhere"))
	s1.waitFor(t, "the event on instance 1", titled(task.EventCreated, "everywhere"))

	go func() { _ = e.stack.StopInstance(context.Background(), "notifier", 1, false) }()
	s1.waitFor(t, "the shutdown event", func(ev sseEvent) bool { return ev.Event == "shutdown" })
	// Instance 0 keeps serving.
	alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "still here"})
	s0.waitFor(t, "the next event on instance 0", titled(task.EventCreated, "still here"))
}
