package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taskflow/taskflow/task"
)

// reminders measures reminder firing: o.reminds tasks each with one
// reminder, due evenly over o.window once they are all set up. The lag of
// a firing is from its scheduled time to its task.reminder.triggered event
// being read from the topic.
func (b *bench) reminders(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.stack.KafkaBrokers(), ",")...), kgo.ConsumeTopics(task.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// Setup registers one actor reminder per task (Dapr's costliest actor
	// call); leave time for it before the window opens.
	setup := time.Duration(b.o.reminds/150+20) * time.Second
	start := time.Now().Add(setup).Truncate(time.Second)
	fmt.Printf("   creating %d tasks; they fall due between %s and %s\n", b.o.reminds, start.Format("15:04:05"),
		start.Add(b.o.window).Format("15:04:05"))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.o.clients)
	for range b.o.clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.o.reminds) {
					return
				}
				at := start.Add(time.Duration(i) * b.o.window / time.Duration(b.o.reminds))
				if _, err := b.post(ctx, i, map[string]any{"title": fmt.Sprintf("remind %d", i),
					"reminders": []map[string]any{{"at": at.UTC().Format(time.RFC3339Nano)}}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if time.Now().After(start) {
		return fmt.Errorf("setup took longer than %v: raise it or lower -reminders", setup)
	}
	fmt.Printf("   set up with %v to spare\n", time.Until(start).Round(time.Second))

	deadline := start.Add(b.o.window + 2*time.Minute)
	var lags []time.Duration
	for len(lags) < b.o.reminds && time.Now().Before(deadline) && ctx.Err() == nil {
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		got := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := task.ParseCloudEvent(r.Value)
			if err == nil && ev.EventType == task.EventReminderTriggered && ev.Reminder != nil {
				lags = append(lags, got.Sub(ev.Reminder.ScheduledAt))
			}
		})
	}
	slices.Sort(lags)
	if len(lags) == 0 {
		return errors.New("no reminder fired")
	}
	p50, p99, worst := percentile(lags, 50), percentile(lags, 99), lags[len(lags)-1].Round(time.Millisecond)
	fmt.Printf("   %d of %d fired: lag p50 %v, p99 %v, max %v\n", len(lags), b.o.reminds, p50, p99, worst)
	bareP99, _ := b.report.ref("actor_p99_ms")
	b.report.add(row{ID: "R", Figure: fmt.Sprintf("reminder firing: %s reminders due within %v, scheduled time → event on the topic", commas(float64(b.o.reminds)), b.o.window),
		Target:    "all fire, p99 lag < 1 s (first wave: p99 42 ms)",
		Measured:  fmt.Sprintf("%s fired, lag p50 %v, p99 %v, max %v", commas(float64(len(lags))), p50, p99, worst),
		Reference: fmt.Sprintf("bare actor call p99 %.1f ms", bareP99), Ratio: fmt.Sprintf("%.1f×", ms(p99)/bareP99),
		Met:    boolp(len(lags) >= b.o.reminds && p99 < time.Second),
		Values: map[string]float64{"fired": float64(len(lags)), "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(worst)}})
	if len(lags) < b.o.reminds {
		return fmt.Errorf("%d of %d reminders fired", len(lags), b.o.reminds)
	}
	return nil
}

// ticks measures recurring series: o.series series that each recur every
// second, so the stack has o.series ticks/s to handle (actor reminder
// fires, the series actor has the instance's actor create the instance,
// the reminder is re-armed). It reports the ticks handled per second and
// the lag from occurrence to instance creation.
func (b *bench) ticks(ctx context.Context) error {
	start := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.o.clients)
	for range b.o.clients {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.o.series); i = next.Add(1) - 1 {
				body := map[string]any{"title": fmt.Sprintf("tick %d", i), "due_date": start.Format(time.RFC3339),
					"recurrence_pattern": "FREQ=SECONDLY", "fire_past_reminders": true}
				if _, err := b.post(ctx, i, body); err != nil {
					errs <- fmt.Errorf("create series: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// Measure once every series runs: from the later of its start and the
	// end of the set-up, after the warm-up.
	if now := time.Now().UTC().Truncate(time.Second).Add(time.Second); now.After(start) {
		start = now
	}
	from := start.Add(b.o.warmup)
	to := from.Add(b.o.duration)
	select {
	case <-time.After(time.Until(to) + 2*time.Second): // instances of the last occurrences get created
	case <-ctx.Done():
		return ctx.Err()
	}
	var n int
	var p50, p99 float64
	err := b.pool.QueryRow(ctx, `SELECT count(*),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurrence_date)), 0),
			coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurrence_date)), 0)
		FROM tasks WHERE parent_recurring_task_id IS NOT NULL AND occurrence_date >= $1 AND occurrence_date < $2`, from, to).
		Scan(&n, &p50, &p99)
	if err != nil {
		return err
	}
	rate := float64(n) / b.o.duration.Seconds()
	fmt.Printf("   %d instances for %v of occurrences: %.0f ticks/s of %d demanded, lag p50 %.0f ms, p99 %.0f ms\n",
		n, b.o.duration, rate, b.o.series, p50*1000, p99*1000)
	bare, _ := b.report.ref("reminder_registrations")
	b.report.add(row{ID: "T", Figure: fmt.Sprintf("series ticks: %d series recurring every second (reminder → series actor → instance actor → PostgreSQL, re-arm)", b.o.series),
		Target:    "500 ticks/s handled, p99 lag < 1 s (first wave: 500/s, p99 532 ms)",
		Measured:  fmt.Sprintf("%.0f ticks/s, lag p50 %.0f ms, p99 %.0f ms", rate, p50*1000, p99*1000),
		Reference: fmt.Sprintf("%s registrations/s", commas(bare)), Ratio: fmt.Sprintf("%.0f %%", 100*rate/bare),
		Met:    boolp(rate >= 0.98*float64(b.o.series) && b.o.series >= 500 && p99 < 1),
		Values: map[string]float64{"rate": rate, "p50_ms": p50 * 1000, "p99_ms": p99 * 1000}})
	return nil
}
