package retention_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/taskflow/taskflow/internal/retention"
	"github.com/taskflow/taskflow/postgres"
)

type purger struct {
	mu      sync.Mutex
	cutoffs []time.Time
}

func (p *purger) Purge(_ context.Context, cutoff time.Time) (postgres.Purged, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutoffs = append(p.cutoffs, cutoff)
	return postgres.Purged{Reminders: 1}, nil
}

func (p *purger) calls() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.cutoffs...)
}

// The purge runs after the first delay and then every interval, only
// while this replica is the active one, with the cutoff the retention ago.
func TestRunPurgesOnlyWhileActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		var active atomic.Bool
		p := &purger{}
		cfg := retention.Config{Retention: 30 * 24 * time.Hour, Interval: time.Hour, FirstDelay: time.Minute}
		done := make(chan error, 1)
		go func() { done <- retention.Run(ctx, cfg, p, active.Load, slog.New(slog.DiscardHandler)) }()

		time.Sleep(2 * time.Minute) // a standby: nothing
		synctest.Wait()
		if n := len(p.calls()); n != 0 {
			t.Fatalf("a standby purged %d times", n)
		}
		active.Store(true)
		time.Sleep(time.Hour) // the next tick, now the leader
		synctest.Wait()
		calls := p.calls()
		if len(calls) != 1 {
			t.Fatalf("purged %d times in an hour as the leader, want 1", len(calls))
		}
		// Ticks at 1m (standby), then 1h1m.
		if want := start.Add(time.Minute + time.Hour - cfg.Retention); !calls[0].Equal(want) {
			t.Errorf("cutoff %v, want %v (the retention ago)", calls[0], want)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if n := len(p.calls()); n != 3 {
			t.Errorf("purged %d times, want 3 (every interval)", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for name, cfg := range map[string]retention.Config{
		"retention under a day": {Retention: time.Hour},
		"negative interval":     {Interval: -time.Second},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
	if err := (retention.Config{}).Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
