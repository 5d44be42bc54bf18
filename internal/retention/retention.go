// Package retention runs the periodic purge of bookkeeping rows that
// reached a final state long ago (postgres.Retention says which).
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/taskflow/taskflow/postgres"
)

// Purger deletes final rows last changed before cutoff.
type Purger interface {
	Purge(ctx context.Context, cutoff time.Time) (postgres.Purged, error)
}

// Config tunes the purge. The zero value of a field means its default.
type Config struct {
	Retention  time.Duration // final rows older than this go; default 30 days
	Interval   time.Duration // how often to purge; default 1h
	FirstDelay time.Duration // the first purge after start; default 1m (the relay lease has settled)
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Retention, 30*24*time.Hour)
	def(&c.Interval, time.Hour)
	def(&c.FirstDelay, time.Minute)
	return c
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < 24*time.Hour) {
		errs = append(errs, fmt.Errorf("retention %v: must be at least a day", c.Retention))
	}
	if c.Interval < 0 || c.FirstDelay < 0 {
		errs = append(errs, fmt.Errorf("retention purge interval %v, first delay %v: must not be negative", c.Interval, c.FirstDelay))
	}
	return errors.Join(errs...)
}

// Run purges every Interval until ctx is done, whenever active reports
// true (the replica whose outbox relay holds the lease: one replica does
// the work; a purge is idempotent, so a moment of two is harmless).
func Run(ctx context.Context, cfg Config, p Purger, active func() bool, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	log := logger.With("component", "retention")
	t := time.NewTimer(cfg.FirstDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if active() {
			start := time.Now()
			n, err := p.Purge(ctx, start.Add(-cfg.Retention))
			switch {
			case err != nil && ctx.Err() == nil:
				log.WarnContext(ctx, "retention purge failed; it runs again later", "error", err, "purged", n)
			case n.Total() > 0:
				log.InfoContext(ctx, "retention purge", "reminders", n.Reminders, "series", n.Series,
					"operations", n.Operations, "took", time.Since(start))
			}
		}
		t.Reset(cfg.Interval)
	}
}
