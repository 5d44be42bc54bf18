package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskflow/taskflow/api"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

type webhookReply struct {
	webhook.Webhook
	Secret string `json:"secret"`
}

// TestWebhooksAPI: register (the secret shown once), list without the
// secret, change, disable and re-enable, rotate, see deliveries, delete;
// every problem names its field.
func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do(t, "alice", "POST", "/api/v1/webhooks", map[string]any{
		"url": "https://hooks.example.com/taskflow", "event_types": []string{"task.completed", "task.created", "task.completed"}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var w webhookReply
	r.json(t, &w)
	if !strings.HasPrefix(w.Secret, "whsec_") || !w.Active || !slices.Equal(w.EventTypes, []string{"task.completed", "task.created"}) ||
		r.header.Get("Location") != "/api/v1/webhooks/"+w.ID.String() {
		t.Fatalf("created %+v, Location %q", w, r.header.Get("Location"))
	}
	id := "/api/v1/webhooks/" + w.ID.String()

	// The secret is never shown again.
	for _, path := range []string{"/api/v1/webhooks", id} {
		r := h.do(t, "alice", "GET", path, nil)
		if r.status != 200 || strings.Contains(string(r.body), w.Secret) || strings.Contains(string(r.body), `"secret"`) {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	var list struct{ Items []webhook.Webhook }
	h.do(t, "alice", "GET", "/api/v1/webhooks", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != w.ID || list.Items[0].ConsecutiveFailures != 0 || list.Items[0].LastStatus != nil {
		t.Fatalf("list %+v", list)
	}

	// Disable, then change URL and types and re-enable in one patch.
	var got webhook.Webhook
	if r := h.do(t, "alice", "PATCH", id, map[string]any{"active": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	} else if r.json(t, &got); got.Active || got.DisabledReason == nil {
		t.Fatalf("disabled %+v", got)
	}
	r = h.do(t, "alice", "PATCH", id, map[string]any{"active": true, "url": "https://other.example.com/in", "event_types": []string{"*"}})
	if r.status != 200 {
		t.Fatalf("re-enable: %d %s", r.status, r.body)
	}
	r.json(t, &got)
	if !got.Active || got.DisabledReason != nil || got.URL != "https://other.example.com/in" || !slices.Equal(got.EventTypes, []string{"*"}) {
		t.Fatalf("re-enabled %+v", got)
	}

	var rotated webhookReply
	if r := h.do(t, "alice", "POST", id+"/rotate-secret", nil); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	} else if r.json(t, &rotated); rotated.Secret == w.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.ID != w.ID {
		t.Fatalf("rotated %+v", rotated)
	}

	// A task event the auditor stores becomes a pending delivery.
	audit := postgres.NewAudit(h.pool)
	audit.EnqueueWebhooks(nil)
	tk := h.create(t, "alice", map[string]any{"title": "hooked"})
	ev := task.NewEvent(task.EventCreated, tk, nil, "corr", time.Now())
	data, _ := json.Marshal(ev)
	if _, err := audit.Write(context.Background(), []task.AuditRecord{task.AuditRecordOf(ev, data, time.Now())}); err != nil {
		t.Fatal(err)
	}
	var deliveries struct{ Items []webhook.Delivery }
	h.do(t, "alice", "GET", id+"/deliveries?limit=5", nil).json(t, &deliveries)
	if len(deliveries.Items) != 1 || deliveries.Items[0].EventID != ev.EventID || deliveries.Items[0].State != "pending" ||
		deliveries.Items[0].NextAttemptAt == nil || deliveries.Items[0].EventType != "task.created" {
		t.Fatalf("deliveries %+v", deliveries)
	}

	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		fields       []string
	}{
		{"POST", "/api/v1/webhooks", map[string]any{}, 422, []string{"event_types", "url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "ftp://example.com", "event_types": []string{"task.exploded"}}, 422, []string{"event_types", "url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/", "event_types": []string{"*"}}, 422, []string{"url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "http://169.254.169.254/", "event_types": []string{"*"}}, 422, []string{"url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "https://a:b@example.com/", "event_types": []string{"*"}}, 422, []string{"url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": 7, "event_types": "task.created", "secret": "mine"}, 422, []string{"event_types", "secret", "url"}},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "https://example.com", "event_types": []string{}}, 422, []string{"event_types"}},
		{"PATCH", id, map[string]any{"active": "yes", "id": "x"}, 422, []string{"active", "id"}},
		{"PATCH", id, map[string]any{"active": nil}, 422, []string{"active"}},
		{"PATCH", id, map[string]any{"url": "localhost:80"}, 422, []string{"url"}},
		{"GET", id + "/deliveries?limit=0", nil, 400, []string{"limit"}},
		{"GET", id + "/deliveries?state=failed", nil, 400, []string{"state"}},
		{"GET", "/api/v1/webhooks/not-a-uuid", nil, 400, []string{"id"}},
	} {
		r := h.do(t, "alice", tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s %v: %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			continue
		}
		if got := fieldsOf(r.problem(t)); !slices.Equal(got, tc.fields) {
			t.Errorf("%s %s %v: fields %v, want %v", tc.method, tc.path, tc.body, got, tc.fields)
		}
	}
	if r := h.do(t, "alice", "PUT", "/api/v1/webhooks", nil); r.status != 405 || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d %q", r.status, r.header.Get("Allow"))
	}

	if r := h.do(t, "alice", "DELETE", id, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := h.do(t, "alice", "GET", id, nil); r.status != 404 || r.problem(t).Title != "Webhook not found" {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
}

// TestWebhooksAreTheirOwners: another user can neither see nor change a
// webhook (404, as if it did not exist), and each user has at most
// MaxPerUser.
func TestWebhooksAreTheirOwners(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var w webhookReply
	h.do(t, "alice", "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/a", "event_types": []string{"*"}}).json(t, &w)
	id := "/api/v1/webhooks/" + w.ID.String()
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", id, nil},
		{"PATCH", id, map[string]any{"active": false}},
		{"DELETE", id, nil},
		{"POST", id + "/rotate-secret", nil},
		{"GET", id + "/deliveries", nil},
	} {
		if r := h.do(t, "bob", tc.method, tc.path, tc.body); r.status != 404 || r.problem(t).Type != api.ProblemBase+"not-found" {
			t.Errorf("bob %s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	var bobs struct{ Items []webhook.Webhook }
	if h.do(t, "bob", "GET", "/api/v1/webhooks", nil).json(t, &bobs); len(bobs.Items) != 0 {
		t.Fatalf("bob sees %+v", bobs.Items)
	}
	var still webhook.Webhook
	if h.do(t, "alice", "GET", id, nil).json(t, &still); !still.Active {
		t.Fatal("bob's patch reached alice's webhook")
	}
	if r := h.do(t, "", "GET", "/api/v1/webhooks", nil); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}

	for i := 1; i < webhook.MaxPerUser; i++ {
		if r := h.do(t, "alice", "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/a", "event_types": []string{"*"}}); r.status != 201 {
			t.Fatalf("webhook %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := h.do(t, "alice", "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/a", "event_types": []string{"*"}})
	if r.status != 409 || r.problem(t).Type != api.ProblemBase+"webhook-limit" {
		t.Fatalf("one too many: %d %s", r.status, r.body)
	}
}
