package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// BenchmarkAuditIngest measures sustained appends to the partitioned audit
// log as the auditor makes them: batches of 100 events of 50 tasks, one in
// ten a redelivery of an event already stored (dedupe on), through the
// writer role. One op is one batch; events/s counts the new events. With
// writers=2, two auditor replicas append at once.
func BenchmarkAuditIngest(b *testing.B) {
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			pool, _ := pgtest.NewPool(b)
			ctx := context.Background()
			const batchSize, tasksPerBatch = 100, 50
			var written atomic.Int64
			var version atomic.Int64
			start := time.Now()
			b.SetParallelism(writers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				audit := postgres.NewAudit(pool)
				if err := audit.WriteAs(ctx, postgres.AuditWriterRole); err != nil {
					b.Error(err)
					return
				}
				tasks := make([]task.Task, tasksPerBatch)
				for i := range tasks {
					tasks[i] = auditTask(b, fmt.Sprintf("user-%d", i))
				}
				var previous []task.AuditRecord
				for pb.Next() {
					batch := make([]task.AuditRecord, 0, batchSize)
					for i := range batchSize {
						if i%10 == 9 && len(previous) > 0 {
							batch = append(batch, previous[i]) // a redelivery
							continue
						}
						batch = append(batch, auditEvent(b, tasks[i%tasksPerBatch], task.EventUpdated, version.Add(1), time.Now()))
					}
					n, err := audit.Write(ctx, batch)
					if err != nil {
						b.Error(err)
						return
					}
					written.Add(int64(n))
					previous = batch
				}
			})
			b.ReportMetric(float64(written.Load())/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditQuery reads a task with 10,000 audited events: its first
// page, a page from the middle by cursor, the largest page, and the check
// of its whole hash chain.
func BenchmarkAuditQuery(b *testing.B) {
	pool, _ := pgtest.NewPool(b)
	audit := postgres.NewAudit(pool)
	ctx := context.Background()
	tk := auditTask(b, "heavy-user")
	t0 := time.Now().Add(-10000 * time.Second)
	for chunk := range 20 {
		batch := make([]task.AuditRecord, 0, 500)
		for i := range 500 {
			n := chunk*500 + i
			batch = append(batch, auditEvent(b, tk, task.EventUpdated, int64(n+1), t0.Add(time.Duration(n)*time.Second)))
		}
		if _, err := audit.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	// Other users' tasks share the table.
	for range 10 {
		other := auditTask(b, "someone-else")
		batch := make([]task.AuditRecord, 0, 500)
		for i := range 500 {
			batch = append(batch, auditEvent(b, other, task.EventUpdated, int64(i+1), t0.Add(time.Duration(i)*time.Second)))
		}
		if _, err := audit.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	var middle string
	q := postgres.AuditQuery{Limit: 500}
	for range 10 {
		page, err := audit.List(ctx, "heavy-user", tk.ID, q)
		if err != nil {
			b.Fatal(err)
		}
		q.After = page.Next
	}
	middle = q.After
	for _, c := range []struct {
		name string
		q    postgres.AuditQuery
	}{
		{"first-page-50", postgres.AuditQuery{Limit: 50}},
		{"middle-page-50", postgres.AuditQuery{Limit: 50, After: middle}},
		{"page-500", postgres.AuditQuery{Limit: 500}},
		{"type-filter-50", postgres.AuditQuery{Limit: 50, Types: []string{"task.updated"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := audit.List(ctx, "heavy-user", tk.ID, c.q)
				if err != nil || len(page.Items) != c.q.Limit {
					b.Fatalf("%d items, %v", len(page.Items), err)
				}
			}
		})
	}
	b.Run("verify-10000", func(b *testing.B) {
		for b.Loop() {
			v, err := audit.Verify(ctx, "heavy-user", tk.ID)
			if err != nil || !v.Valid || v.Events != 10000 {
				b.Fatalf("%+v %v", v, err)
			}
		}
	})
}
