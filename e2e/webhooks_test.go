package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

// hookReceiver is a webhook endpoint in the test: it answers status and
// keeps every request. Safe for concurrent use.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, hookRequest{at: time.Now(), header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// TestWebhooksOnTheStack: a webhook registered through the API receives
// the user's task.created and task.completed events, which travel actor →
// outbox → Kafka → auditor → dispatcher, signed with the secret the
// registration returned; a second webhook whose endpoint answers 500 is
// retried with backoff and ends disabled, its last status visible in the
// list.
func TestWebhooksOnTheStack(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	good := newHookReceiver(t, http.StatusNoContent)
	bad := newHookReceiver(t, http.StatusInternalServerError)
	type registered struct {
		webhook.Webhook
		Secret string `json:"secret"`
	}
	var hook, broken registered
	alice.must(201, "POST", "/api/v1/webhooks", map[string]any{"url": good.URL + "/taskflow",
		"event_types": []string{"task.created", "task.completed"}}).decode(t, &hook)
	alice.must(201, "POST", "/api/v1/webhooks", map[string]any{"url": bad.URL, "event_types": []string{"*"}}).decode(t, &broken)

	tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Ship webhooks"}).task(t)
	alice.must(200, "PATCH", "/api/v1/tasks/"+tk.ID.String(), map[string]any{"title": "Ship webhooks today"})
	alice.must(200, "POST", "/api/v1/tasks/"+tk.ID.String()+"/complete", nil)

	eventually(t, 20*time.Second, "task.created and task.completed at the receiver", func() bool {
		return len(good.requests()) >= 2
	})
	reqs := good.requests()
	var types []task.EventType
	for _, r := range reqs {
		if err := webhook.Verify(hook.Secret, r.header.Get("Webhook-Timestamp"), r.header.Get("Webhook-Signature"), r.body,
			time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("%s: %v (headers %v)", r.body, err, r.header)
		}
		ev, err := parseEvent(r.body)
		if err != nil {
			t.Fatal(err)
		}
		if ev.TaskID != tk.ID || ev.Task.ID != tk.ID || string(ev.EventType) != r.header.Get("Webhook-Event") {
			t.Fatalf("delivered %s of task %s (header %q), want task %s", ev.EventType, ev.TaskID, r.header.Get("Webhook-Event"), tk.ID)
		}
		if ev.EventType == task.EventCompleted && (!ev.Task.Completed || ev.Task.Title != "Ship webhooks today") {
			t.Fatalf("task.completed carries %+v", ev.Task)
		}
		types = append(types, ev.EventType)
	}
	// Not subscribed to task.updated; one webhook's deliveries in order.
	if !slices.Equal(types, []task.EventType{task.EventCreated, task.EventCompleted}) {
		t.Fatalf("received %v", types)
	}

	// The failing endpoint: three attempts (WEBHOOK_MAX_FAILURES in the
	// harness), then disabled, with why in the list.
	var list struct{ Items []webhook.Webhook }
	eventually(t, 20*time.Second, "the failing webhook disabled", func() bool {
		alice.must(200, "GET", "/api/v1/webhooks", nil).decode(t, &list)
		i := slices.IndexFunc(list.Items, func(w webhook.Webhook) bool { return w.ID == broken.ID })
		return i >= 0 && !list.Items[i].Active
	})
	for _, w := range list.Items {
		switch w.ID {
		case broken.ID:
			if w.LastStatus == nil || *w.LastStatus != 500 || w.ConsecutiveFailures != 3 || w.DisabledReason == nil || w.LastSuccessAt != nil {
				t.Fatalf("disabled webhook %+v", w)
			}
		case hook.ID:
			if !w.Active || w.LastStatus == nil || *w.LastStatus != 204 || w.ConsecutiveFailures != 0 || w.LastSuccessAt == nil {
				t.Fatalf("working webhook %+v", w)
			}
		}
	}
	attempts := bad.requests()
	if len(attempts) != 3 {
		t.Fatalf("the failing endpoint got %d requests, want 3", len(attempts))
	}
	// Backoff: 200 ms, then 600 ms, each at least 80 % of that.
	for i, least := range []time.Duration{0, 160 * time.Millisecond, 480 * time.Millisecond} {
		if i == 0 {
			continue
		}
		if gap := attempts[i].at.Sub(attempts[i-1].at); gap < least {
			t.Errorf("attempt %d came %v after the previous one, before the backoff (%v)", i+1, gap, least)
		}
		if attempts[i].header.Get("Webhook-Id") != attempts[0].header.Get("Webhook-Id") {
			t.Errorf("attempt %d is of another delivery: the oldest should be retried first", i+1)
		}
	}
	var deliveries struct{ Items []webhook.Delivery }
	alice.must(200, "GET", "/api/v1/webhooks/"+broken.ID.String()+"/deliveries", nil).decode(t, &deliveries)
	// The probe failed three times; what waited behind it failed unsent
	// (an event that came after the disabling was not enqueued at all).
	var tried int
	for _, d := range deliveries.Items {
		if d.State != "failed" || (d.Attempts != 0 && d.Attempts != 3) {
			t.Fatalf("delivery of the disabled webhook: %+v", d)
		}
		if d.Attempts == 3 {
			tried++
		}
	}
	if tried != 1 {
		t.Fatalf("deliveries of the disabled webhook: %+v", deliveries.Items)
	}
	// Another user sees none of it.
	bob := e.as(t, "bob-"+uuid.NewString())
	bob.must(404, "GET", "/api/v1/webhooks/"+hook.ID.String()+"/deliveries", nil)
}

func parseEvent(b []byte) (task.Event, error) {
	var ev task.Event
	err := json.Unmarshal(b, &ev)
	return ev, err
}
