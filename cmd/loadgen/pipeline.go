package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/internal/platform"
)

// ping measures the bare actor call: the api app's sidecar to the actors
// app's sidecar to TaskActor.Ping, as the API calls actors.
func (b *bench) ping(ctx context.Context) error {
	// The Go SDK sends DAPR_API_TOKEN from the environment, as the apps do.
	os.Setenv("DAPR_API_TOKEN", b.stack.SidecarToken("api"))
	conn, err := platform.DaprClient(ctx, b.stack.App("api").DaprGRPCPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	pinger := actors.NewClient(conn)
	ids := make([]uuid.UUID, max(1, b.o.actorIDs))
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	cpu0 := b.sampleCPU()
	res := measure(ctx, b.o, func(ctx context.Context, i int64) error {
		if b.o.actorIDs == 0 {
			return pinger.Ping(ctx, uuid.Must(uuid.NewV7()))
		}
		return pinger.Ping(ctx, ids[i%int64(len(ids))])
	})
	fmt.Printf("   bare actor calls: %v (%d errors)\n   %s\n", res, res.errors, perOp(cpu0, b.sampleCPU(), int(res.all)))
	if res.ok == 0 {
		return fmt.Errorf("%w: %v", errNoData, res.firstErr)
	}
	b.report.setRef("actor_calls", res.rate)
	b.report.setRef("actor_p99_ms", ms(res.p99))
	b.report.add(row{ID: "ref", Figure: "bare actor call: api's sidecar → actors' sidecar → TaskActor.Ping, 32 clients",
		Measured: res.String(), Values: map[string]float64{"rate": res.rate, "p50_ms": ms(res.p50), "p99_ms": ms(res.p99)}})
	return nil
}

// remindBare measures bare reminder registration: RegisterActorReminder
// on the actors app's sidecar, due in an hour, over 1,000 actor ids (a
// registration replaces the id's previous one, so the scheduler does not
// fill up with jobs that would slow the phases after this one).
func (b *bench) remindBare(ctx context.Context) error {
	os.Setenv("DAPR_API_TOKEN", b.stack.SidecarToken("actors"))
	conn, err := platform.DaprClient(ctx, b.stack.App("actors").DaprGRPCPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	cpu0 := b.sampleCPU()
	res := measure(ctx, b.o, func(ctx context.Context, i int64) error {
		return conn.RegisterActorReminder(ctx, &dapr.RegisterActorReminderRequest{ActorType: actors.TaskActorType,
			ActorID: ids[i%int64(len(ids))], Name: "bench", DueTime: "1h"})
	})
	fmt.Printf("   bare reminder registrations: %v (%d errors)\n   %s\n", res, res.errors, perOp(cpu0, b.sampleCPU(), int(res.all)))
	if res.ok == 0 {
		return fmt.Errorf("%w: %v", errNoData, res.firstErr)
	}
	b.report.setRef("reminder_registrations", res.rate)
	b.report.add(row{ID: "ref", Figure: "bare reminder registration: RegisterActorReminder on the actors' sidecar, 32 clients",
		Measured: res.String(), Values: map[string]float64{"rate": res.rate, "p50_ms": ms(res.p50), "p99_ms": ms(res.p99)}})
	return nil
}

// acked collects the ids of acknowledged creates.
type acked struct {
	mu  sync.Mutex
	ids []uuid.UUID
}

func (a *acked) add(id string) {
	u, err := uuid.Parse(id)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.ids = append(a.ids, u)
	a.mu.Unlock()
}

// create measures P1: creates through the whole pipeline, then checks that
// every acknowledged one is in the tasks table and in the audit log.
func (b *bench) create(ctx context.Context) error {
	var ids acked
	cpu0 := b.sampleCPU()
	res := measure(ctx, b.o, func(ctx context.Context, i int64) error {
		id, err := b.post(ctx, i, map[string]any{"title": fmt.Sprintf("load task %d", i), "priority": "medium", "tags": []string{"load"}})
		if err == nil {
			ids.add(id)
		}
		return err
	})
	cpu := perOp(cpu0, b.sampleCPU(), int(res.all))
	fmt.Printf("   creates: %v (%d errors)\n   %s\n", res, res.errors, cpu)
	if res.ok == 0 {
		return fmt.Errorf("%w: %v", errNoData, res.firstErr)
	}
	stored, audited, drain, err := b.checkStored(ctx, ids.ids)
	if err != nil {
		return err
	}
	lost := len(ids.ids) - min(stored, audited)
	bare, _ := b.report.ref("actor_calls")
	ratio := res.rate / bare
	met := res.rate >= 1500 && res.p99 < 50*time.Millisecond && ratio >= 0.40 && lost == 0
	b.report.add(row{ID: "P1", Figure: "create: HTTP → API → actor → PostgreSQL (task + outbox) → relay → Kafka → auditor row + notifier, 32 clients",
		Target:    "≥ 1,500/s, p99 < 50 ms, ≥ 40 % of bare actor calls, nothing lost",
		Measured:  fmt.Sprintf("%s; %d acknowledged, %d in tasks, %d in the audit log (all within %v)", res, len(ids.ids), stored, audited, drain.Round(time.Millisecond)),
		Reference: fmt.Sprintf("%s actor calls/s", commas(bare)), Ratio: fmt.Sprintf("%.0f %%", 100*ratio), Met: boolp(met),
		Values: map[string]float64{"rate": res.rate, "p50_ms": ms(res.p50), "p99_ms": ms(res.p99), "ratio": ratio,
			"acknowledged": float64(len(ids.ids)), "lost": float64(lost), "errors": float64(res.errors)}})
	if lost > 0 {
		return fmt.Errorf("%d acknowledged creates missing from the tasks table or the audit log", lost)
	}
	return nil
}

// checkStored waits until every id is in the tasks table and has its
// task.created row in the audit log, and returns how many are.
func (b *bench) checkStored(ctx context.Context, ids []uuid.UUID) (stored, audited int, took time.Duration, err error) {
	start := time.Now()
	count := func(sql string) (int, error) {
		var n int
		err := b.pool.QueryRow(ctx, sql, ids).Scan(&n)
		return n, err
	}
	err = waitUntil(ctx, 3*time.Minute, func() (bool, error) {
		var err error
		if stored, err = count(`SELECT count(*) FROM tasks WHERE id = ANY($1)`); err != nil {
			return false, err
		}
		audited, err = count(`SELECT count(DISTINCT task_id) FROM task_events WHERE event_type = 'task.created' AND task_id = ANY($1)`)
		return audited == len(ids) && stored == len(ids), err
	})
	if err != nil && ctx.Err() == nil {
		err = nil // report what is missing instead
	}
	return stored, audited, time.Since(start), err
}

// createWithReminder measures P1r: creates of tasks due in a few hours
// with a reminder 30 minutes before.
func (b *bench) createWithReminder(ctx context.Context) error {
	var ids acked
	base := time.Now().Add(3 * time.Hour).UTC()
	cpu0 := b.sampleCPU()
	res := measure(ctx, b.o, func(ctx context.Context, i int64) error {
		due := base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		id, err := b.post(ctx, i, map[string]any{"title": fmt.Sprintf("reminded %d", i), "due_date": due, "reminder_offset": "30 minutes"})
		if err == nil {
			ids.add(id)
		}
		return err
	})
	fmt.Printf("   creates with a reminder: %v (%d errors)\n   %s\n", res, res.errors, perOp(cpu0, b.sampleCPU(), int(res.all)))
	if res.ok == 0 {
		return fmt.Errorf("%w: %v", errNoData, res.firstErr)
	}
	var pending int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM reminder_schedule WHERE task_id = ANY($1) AND status = 'pending'
		AND reminder_type = 'offset'`, ids.ids).Scan(&pending); err != nil {
		return err
	}
	bare, _ := b.report.ref("reminder_registrations")
	ratio := res.rate / bare
	b.report.add(row{ID: "P1r", Figure: "create with a due date and a reminder (HTTP → API → actor → Dapr reminder + PostgreSQL), 32 clients",
		Target: "≥ 500/s", Measured: fmt.Sprintf("%s; %d acknowledged, %d with their reminder pending", res, len(ids.ids), pending),
		Reference: fmt.Sprintf("%s registrations/s", commas(bare)), Ratio: fmt.Sprintf("%.0f %%", 100*ratio),
		Met:    boolp(res.rate >= 500 && pending == len(ids.ids)),
		Values: map[string]float64{"rate": res.rate, "p50_ms": ms(res.p50), "p99_ms": ms(res.p99), "ratio": ratio}})
	return nil
}
