package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskflow/taskflow/postgres"
)

// A request's W3C traceparent reaches the outbox row of the write it
// causes: through the API's request span, the actor call's body and the
// actor's span. No SDK provider is installed here (as without an
// exporter), so every span passes the incoming context on unchanged.
func TestTraceparentReachesTheOutbox(t *testing.T) {
	t.Parallel()
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name, header, want string
	}{
		{"incoming trace context", incoming, incoming},
		{"malformed header is ignored", "00-zz-00f067aa0ba902b7-01", ""},
		{"none", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var headers []string
			if tc.header != "" {
				headers = []string{"traceparent", tc.header}
			}
			r := h.do(t, "alice", "POST", "/api/v1/tasks", map[string]any{"title": "traced"}, headers...)
			if r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			ctx := context.Background()
			lease, ok, err := postgres.NewOutbox(h.pool).TryLease(ctx, "test", time.Minute)
			if err != nil || !ok {
				t.Fatalf("lease: %v %v", ok, err)
			}
			defer lease.Release()
			msgs, err := lease.Fetch(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d outbox rows, want 1", len(msgs))
			}
			if msgs[0].Traceparent != tc.want {
				t.Fatalf("outbox row traceparent %q, want %q", msgs[0].Traceparent, tc.want)
			}
		})
	}
}
