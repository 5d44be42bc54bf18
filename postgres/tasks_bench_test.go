package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// BenchmarkInsert measures the task actor's create statement (task row and
// outbox event in one statement) from 32 goroutines, as under load.
func BenchmarkInsert(b *testing.B) {
	pool, _ := pgtest.NewPool(b)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now()
	b.SetParallelism(16) // 16 x GOMAXPROCS(2) = 32 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			tk, err := task.New(uuid.Must(uuid.NewV7()), fmt.Sprintf("user-%d", i%100),
				task.Draft{Title: fmt.Sprintf("load task %d", i), Priority: task.PriorityMedium, Tags: []string{"load"}}, now)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "bench", now), nil, task.Extras{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkList measures one page of a user's tasks (50 of 2,000, newest first).
func BenchmarkList(b *testing.B) {
	pool, _ := pgtest.NewPool(b)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now()
	for i := range 2000 {
		tk, _ := task.New(uuid.Must(uuid.NewV7()), "heavy-user", task.Draft{Title: fmt.Sprintf("task %d", i)}, now.Add(time.Duration(i)*time.Millisecond))
		if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := store.List(ctx, "heavy-user", postgres.ListQuery{Sort: postgres.SortCreatedAt, Desc: true, Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}
