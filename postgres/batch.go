package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// groupCommit runs the write statements of concurrent callers together:
// the statements waiting when a connection frees up are sent in one
// pipeline inside one transaction, so a burst of task writes costs one
// round trip and one WAL flush instead of one each. Each caller still gets
// its own statement's result, and only after the transaction committed.
//
// Statements in a batch must be independent of each other (they are the
// writes of different tasks: a task's actor has at most one write in
// flight). If the shared transaction fails, each of its statements is run
// again on its own, so one statement that PostgreSQL refuses fails only
// its caller.
//
// No goroutine outlives the work: a flusher runs while statements wait and
// ends when none do. A groupCommit is safe for concurrent use.
type groupCommit struct {
	pool     *pgxpool.Pool
	flushers int           // transactions in flight at most
	maxBatch int           // statements per transaction at most
	timeout  time.Duration // for one transaction

	mu      sync.Mutex
	queue   []*pendingWrite
	running int

	transactions, statements, retried atomic.Int64
}

// WriteStats counts the task writes (statements) and the transactions
// they shared; Retried counts statements run again on their own after
// their shared transaction failed.
type WriteStats struct {
	Transactions, Statements, Retried int64
}

type pendingWrite struct {
	sql  string
	args []any
	done chan struct{}
	tag  pgconn.CommandTag
	err  error
}

func newGroupCommit(pool *pgxpool.Pool, flushers, maxBatch int) *groupCommit {
	return &groupCommit{pool: pool, flushers: max(1, flushers), maxBatch: max(1, maxBatch), timeout: 30 * time.Second}
}

// exec runs one statement in the next batch and returns its command tag
// once the batch committed. It waits for the outcome even if ctx ends
// first (the outcome decides what the caller's actor caches), bounded by
// the batch timeout.
func (g *groupCommit) exec(_ context.Context, sql string, args []any) (pgconn.CommandTag, error) {
	w := &pendingWrite{sql: sql, args: args, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if g.running < g.flushers {
		g.running++
		go g.flush()
	}
	g.mu.Unlock()
	<-w.done
	return w.tag, w.err
}

// flush runs batches until nothing waits.
func (g *groupCommit) flush() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		n := min(len(g.queue), g.maxBatch)
		batch := make([]*pendingWrite, n)
		copy(batch, g.queue)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()
		g.run(batch)
	}
}

func (g *groupCommit) run(batch []*pendingWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	g.transactions.Add(1)
	g.statements.Add(int64(len(batch)))
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
	}()
	if len(batch) == 1 {
		batch[0].tag, batch[0].err = g.pool.Exec(ctx, batch[0].sql, batch[0].args...)
		return
	}
	tags := make([]pgconn.CommandTag, len(batch))
	err := pgx.BeginFunc(ctx, g.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, w := range batch {
			b.Queue(w.sql, w.args...)
		}
		res := tx.SendBatch(ctx, b)
		for i := range batch {
			tag, err := res.Exec()
			if err != nil {
				_ = res.Close()
				return err
			}
			tags[i] = tag
		}
		return res.Close()
	})
	if err == nil {
		for i, w := range batch {
			w.tag = tags[i]
		}
		return
	}
	// Nothing of the batch committed (or, if the commit's answer was lost,
	// the statements' guards make their second run change nothing): run
	// each on its own so that only the statement at fault fails.
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) && ctx.Err() != nil {
		for _, w := range batch {
			w.err = fmt.Errorf("write batch: %w", err)
		}
		return
	}
	g.retried.Add(int64(len(batch)))
	for _, w := range batch {
		w.tag, w.err = g.pool.Exec(ctx, w.sql, w.args...)
	}
}

func (g *groupCommit) stats() WriteStats {
	return WriteStats{Transactions: g.transactions.Load(), Statements: g.statements.Load(), Retried: g.retried.Load()}
}
