package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/outbox"
	"github.com/taskflow/taskflow/postgres"
)

// hangingPublisher freezes in its first call, as a leader whose process
// stops (a node that vanished without closing its connections, a paused
// VM): it ignores ctx and returns, successfully, only once released.
type hangingPublisher struct {
	hung    chan struct{} // closed when the first call froze
	release chan struct{} // close to let it return
	wake    sync.Once
	mu      sync.Mutex
	calls   int
}

// wakeUp lets the frozen call return. Safe to call more than once.
func (h *hangingPublisher) wakeUp() { h.wake.Do(func() { close(h.release) }) }

func newHangingPublisher() *hangingPublisher {
	return &hangingPublisher{hung: make(chan struct{}), release: make(chan struct{})}
}

func (h *hangingPublisher) Publish(_ context.Context, msgs []postgres.Message) (map[int64]error, error) {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if first {
		close(h.hung)
		<-h.release
	}
	return nil, nil
}

func (h *hangingPublisher) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// A leader that hangs (it neither publishes nor renews, and never releases
// its lease) loses the leadership within about the lease's TTL: a standby
// takes over and publishes. When the hung leader wakes up it does not go
// on as leader.
func TestRelayStandbyTakesOverFromAHungLeader(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	cfg := testConfig
	cfg.LeaseTTL = time.Second
	start := func(pub outbox.Publisher) (*outbox.Relay, *prometheus.Registry, context.CancelFunc, <-chan error) {
		reg := prometheus.NewRegistry()
		ctx, cancel := context.WithCancel(context.Background())
		r, done := startRelayWith(t, ctx, pool, pub, &deadLetters{}, cfg, reg)
		return r, reg, cancel, done
	}

	hung := newHangingPublisher()
	relayA, regA, stopA, doneA := start(hung)
	t.Cleanup(func() { hung.wakeUp(); stopA() }) // before the pool closes
	writeHistory(t, store, 2)
	select {
	case <-hung.hung:
	case <-time.After(10 * time.Second):
		t.Fatal("relay A never published")
	}

	hungAt := time.Now()
	pubB := newRecorder()
	relayB, regB, stopB, doneB := start(pubB)
	t.Cleanup(stopB)
	eventually(t, "standby B to take over from the hung leader and publish its batch", func() bool {
		return len(pubB.events()) == 2 && unsent(t, pool) == 0
	})
	// About the TTL (plus a lease retry), with room for a loaded machine.
	if took := time.Since(hungAt); took > 5*cfg.LeaseTTL {
		t.Errorf("B took over %v after A hung; the lease TTL is %v", took, cfg.LeaseTTL)
	}
	if v, _ := gauge(t, regB, "taskflow_outbox_leader"); v != 1 || !relayB.Leading() {
		t.Fatalf("B's leader gauge = %v, Leading = %v", v, relayB.Leading())
	}

	// A wakes up: its lease is gone, so it steps down instead of
	// publishing next to B.
	hung.wakeUp()
	eventually(t, "the woken leader A to step down", func() bool {
		v, _ := gauge(t, regA, "taskflow_outbox_leader")
		return v == 0 && !relayA.Leading()
	})
	writeHistory(t, store, 3)
	eventually(t, "B to publish the next task", func() bool { return len(pubB.events()) == 5 && unsent(t, pool) == 0 })
	if n := hung.callCount(); n != 1 {
		t.Fatalf("the stale leader A published %d more batches", n-1)
	}
	stopA()
	stopB()
	for _, done := range []<-chan error{doneA, doneB} {
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	}
}
