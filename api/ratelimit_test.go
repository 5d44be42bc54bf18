package api_test

import (
	"strconv"
	"testing"

	"github.com/taskflow/taskflow/api"
)

// TestWritesAreRateLimitedPerUser: past the burst a user's writes get 429
// with Retry-After; their reads and another user's writes go on.
func TestWritesAreRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, api.Config{WriteLimit: api.WriteLimit{Rate: 0.5, Burst: 3}})
	for i := range 3 {
		if r := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"title": "t" + strconv.Itoa(i)}); r.status != 201 {
			t.Fatalf("write %d within the burst = %d %s", i, r.status, r.body)
		}
	}
	r := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"title": "one too many"})
	if r.status != 429 {
		t.Fatalf("write past the burst = %d %s", r.status, r.body)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := h.do(t, "alice", "GET", "/api/v1/tasks", nil); r.status != 200 {
		t.Fatalf("a read while limited = %d", r.status)
	}
	if r := h.do(t, "bob", "POST", "/api/v1/tasks", map[string]any{"title": "bob's"}); r.status != 201 {
		t.Fatalf("another user's write = %d", r.status)
	}
	var list struct{ Items []map[string]any }
	h.do(t, "alice", "GET", "/api/v1/tasks", nil).json(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("alice has %d tasks; the refused write must not land", len(list.Items))
	}
}
