package e2e_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

// TestEventOrderWithTwoActorReplicas runs the actors app as two replicas
// (one Dapr app id, actors spread over both by placement), changes many
// tasks concurrently, kills the replica whose outbox relay is active half
// way, and checks every task's events on the topic: all there, in version
// order, each version once or more (at least once), no gaps.
func TestEventOrderWithTwoActorReplicas(t *testing.T) {
	t.Parallel()
	e := startStack(t, stackOptions{replicas: map[string]int{"actors": 2}})
	alice := e.as(t, "alice-"+uuid.NewString())
	const tasks, updates = 24, 6

	created := make([]task.Task, tasks)
	for i := range created {
		created[i] = alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": fmt.Sprintf("ordered %d", i)}).task(t)
	}
	update := func(from, to int) {
		var wg sync.WaitGroup
		for _, tk := range created {
			wg.Go(func() {
				for v := from; v < to; v++ {
					path := "/api/v1/tasks/" + tk.ID.String()
					// A call that hits a replica being killed may fail; the
					// client retries until the change is in (If-Match keeps
					// a retried write from applying twice).
					deadline := time.Now().Add(60 * time.Second)
					for {
						r := alice.do("PATCH", path, map[string]any{"title": fmt.Sprintf("v%d", v+1)}, "If-Match", fmt.Sprintf(`"%d"`, v))
						if r.status == 200 || r.status == 412 {
							break
						}
						if r.status < 500 || time.Now().After(deadline) {
							t.Errorf("PATCH %s to v%d: %d %s", tk.ID, v+1, r.status, r.body)
							return
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
	}
	update(1, 1+updates/2)

	// Both replicas host task actors.
	insts := e.stack.Instances("actors")
	if len(insts) != 2 {
		t.Fatalf("%d actors instances", len(insts))
	}
	leader := -1
	for i, in := range insts {
		if n := metricValue(t, in.URL+"/metrics", `taskflow_actor_call_seconds_count{method="update",outcome="ok"}`); n <= 0 {
			t.Errorf("actors replica %d served no updates", i)
		}
		if metricValue(t, in.URL+"/metrics", "taskflow_outbox_leader") == 1 {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no replica's relay is active")
	}
	// The active relay's replica dies; the other takes the lease and the
	// actors that lived on the dead one move over.
	if err := e.stack.KillInstance("actors", leader, true); err != nil {
		t.Fatal(err)
	}
	update(1+updates/2, 1+updates)

	for _, tk := range created {
		e.events.wait(t, tk.ID.String(), 1+updates) // and no undecodable records
		// Repeats count toward wait's number: wait for every distinct event.
		var recs []record
		eventually(t, 30*time.Second, fmt.Sprintf("%d distinct events of task %s", 1+updates, tk.ID), func() bool {
			recs = e.events.forTask(tk.ID.String())
			ids := map[uuid.UUID]bool{}
			for _, r := range recs {
				ids[r.Event.EventID] = true
			}
			return len(ids) >= 1+updates
		})
		// At least once: a relay killed between publishing and marking makes
		// the next one send those events again. Consumers drop repeats by
		// event_id; what they then see must be every version, in order.
		var all, deduped []int64
		byID := map[uuid.UUID]int64{}
		for _, r := range recs {
			if r.Key != tk.ID.String() {
				t.Errorf("task %s event keyed %q", tk.ID, r.Key)
			}
			all = append(all, r.Event.Version)
			if v, seen := byID[r.Event.EventID]; seen {
				if v != r.Event.Version {
					t.Errorf("event %s re-sent with version %d, first %d", r.Event.EventID, r.Event.Version, v)
				}
				continue
			}
			byID[r.Event.EventID] = r.Event.Version
			deduped = append(deduped, r.Event.Version)
		}
		versions := all
		want := make([]int64, 1+updates)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(deduped, want) {
			t.Errorf("task %s versions on the topic %v, want %v in order", tk.ID, versions, want)
		}
	}
}
