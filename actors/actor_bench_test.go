package actors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/task"
)

// BenchmarkInvokeCreate is the actors app's share of one create: decoding
// the request off the actor stream, validating, planning alarms, building
// the event (CloudEvent encoding included) and encoding the reply. The
// store is in memory, so the database round trip is not in it.
func BenchmarkInvokeCreate(b *testing.B) {
	for _, tc := range []struct {
		name  string
		draft task.Draft
	}{
		{"plain", task.Draft{Title: "load task", Priority: task.PriorityMedium, Tags: []string{"load"}}},
		{"with reminder", task.Draft{Title: "load task", ReminderOffset: ptr("30 minutes")}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv()
			e.deps.Store = discardStore{e.store} // writes cost nothing: the actor's own work is measured
			ctx := context.Background()
			if tc.draft.ReminderOffset != nil {
				due := e.clock().Add(3 * 60 * 60 * 1e9)
				tc.draft.DueDate = &due
			}
			req, err := json.Marshal(actors.CreateRequest{Request: actors.Request{UserID: "alice", CorrelationID: "bench"}, Draft: tc.draft})
			if err != nil {
				b.Fatal(err)
			}
			factory := actors.Factory(e.deps)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				a := factory(uuid.Must(uuid.NewV7()).String())
				out, err := a.Invoke(ctx, "Create", req)
				if err != nil || len(out) == 0 {
					b.Fatal(fmt.Sprint(err))
				}
			}
		})
	}
}

// discardStore accepts every insert without keeping it.
type discardStore struct{ *memStore }

func (discardStore) Insert(context.Context, task.Task, task.Event, *task.IdempotencyKey, task.Extras) (*task.Task, error) {
	return nil, nil
}
