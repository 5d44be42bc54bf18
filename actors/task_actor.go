// Package actors hosts TaskFlow's Dapr virtual actors. A TaskActor owns one
// task: it is the only writer of the task's row, Dapr runs its calls one at
// a time (turn-based), and it keeps the current snapshot in memory between
// calls so that each write is a single database round trip.
package actors

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/actorhost"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// Store persists tasks and enqueues their events atomically, and keeps the
// progress of recurring series.
type Store interface {
	Insert(ctx context.Context, t task.Task, ev task.Event, idem *task.IdempotencyKey, x task.Extras) (replay *task.Task, err error)
	Update(ctx context.Context, next task.Task, prevVersion int64, ev task.Event, x task.Extras) error
	Delete(ctx context.Context, id uuid.UUID, prevVersion int64, ev task.Event, x task.Extras) error
	Get(ctx context.Context, id uuid.UUID) (task.Task, error)
	Alarms(ctx context.Context, taskID uuid.UUID) ([]task.Alarm, error)
	SaveAlarms(ctx context.Context, alarms []task.Alarm) error
	Fire(ctx context.Context, f task.Fired) error
	Series(ctx context.Context, id uuid.UUID) (task.SeriesState, bool, error)
	SaveSeries(ctx context.Context, st task.SeriesState) error
}

// Peers calls other TaskActors (through the Dapr sidecar): a series
// creates its instances through their own actors, an instance tells its
// series that it was completed.
type Peers interface {
	CreateInstance(ctx context.Context, id uuid.UUID, req InstanceRequest) (*Reply, error)
	SeriesInstanceCompleted(ctx context.Context, series uuid.UUID, req CompletionNotice) (*Reply, error)
}

// Reminders registers and removes Dapr actor reminders (the Dapr client
// satisfies it).
type Reminders interface {
	RegisterActorReminder(ctx context.Context, req *dapr.RegisterActorReminderRequest) error
	UnregisterActorReminder(ctx context.Context, req *dapr.UnregisterActorReminderRequest) error
}

// Workflows starts the workflow of a series-wide operation. Starting one
// that already runs (same id) must succeed.
type Workflows interface {
	StartSeriesOperation(ctx context.Context, op SeriesOperation) error
	// RetryOperation runs a failed operation's workflow again; the items
	// it already dealt with are dealt with idempotently.
	RetryOperation(ctx context.Context, id uuid.UUID) error
	// TerminateOperation stops an operation's running workflow and marks
	// the operation failed, saying who stopped it.
	TerminateOperation(ctx context.Context, id uuid.UUID, by string) error
}

// ErrOperationState wraps the refusal to retry or terminate an operation
// that is not in a state for it (its message says why).
var ErrOperationState = errors.New("the operation cannot do that now")

// SeriesConfig tunes recurring series.
type SeriesConfig struct {
	// MissedPolicy says what a series does with occurrences it missed while
	// the system was down: "latest" creates the most recent one and counts
	// the others as skipped; "all" creates them all, up to CatchUpMax.
	MissedPolicy string
	CatchUpMax   int
	// RetryPeriod is the period of the series reminder: it re-fires after a
	// tick that failed (a reminder callback's failure is not retried by Dapr).
	RetryPeriod time.Duration
}

// Deps are what every TaskActor shares. They must be safe for concurrent use.
type Deps struct {
	Store Store
	// Committed is called after every committed write (it wakes the outbox
	// relay). It must not block.
	Committed func()
	Now       func() time.Time
	Logger    *slog.Logger
	Metrics   *Metrics
	Limits    task.Limits
	Peers     Peers
	Reminders Reminders
	Workflows Workflows
	Series    SeriesConfig
	// Scheduled looks up this app's actor reminders in Dapr's scheduler
	// (for the ops view); nil answers unavailable.
	Scheduled ScheduledReminders
	// Tracer starts the actor methods' spans; nil means tracing.Tracer().
	Tracer trace.Tracer
}

// ScheduledReminders tells whether Dapr's scheduler holds an actor
// reminder. Only the sidecar hosting the actor type can tell.
type ScheduledReminders interface {
	Held(ctx context.Context, id uuid.UUID, name string) (bool, error)
}

// TaskActor is the Dapr actor for one task. Its exported methods are the
// actor's methods (Invoke dispatches to them); Dapr serialises calls to one
// actor id, and a mutex makes that explicit inside the process.
type TaskActor struct {
	id     string
	deps   *Deps
	tracer trace.Tracer

	mu     sync.Mutex
	loaded bool         // cur and alarms reflect the database
	cur    *task.Task   // nil when the task does not exist
	alarms []task.Alarm // the task's reminder_schedule rows
}

// Factory returns the function that activates a TaskActor for the actor
// host.
func Factory(deps *Deps) actorhost.Factory {
	tracer := deps.Tracer
	if tracer == nil {
		tracer = tracing.Tracer()
	}
	return func(id string) actorhost.Actor { return &TaskActor{id: id, deps: deps, tracer: tracer} }
}

// ID returns the actor id (the task id).
func (a *TaskActor) ID() string { return a.id }

// Create creates the task. The actor id must be a new task id.
func (a *TaskActor) Create(ctx context.Context, req *CreateRequest) (*Reply, error) {
	return a.call(ctx, "create", func(now time.Time) (*Reply, error) {
		id, err := a.taskID()
		if err != nil {
			return nil, err
		}
		t, err := a.deps.Limits.New(id, req.UserID, req.Draft, now)
		if err != nil {
			return nil, err
		}
		plan, err := task.PlanAlarms(t, nil, now, pastPolicy(req.FirePastReminders))
		if err != nil {
			return nil, err
		}
		t.ReminderStatus = task.ReminderStatus(plan.Rows)
		ev := task.NewEvent(task.EventCreated, t, nil, req.CorrelationID, now)
		if err := a.armBefore(ctx, id, nil, plan.Rows); err != nil {
			return nil, err
		}
		replay, err := a.deps.Store.Insert(ctx, t, ev, req.Idempotency, task.Extras{Alarms: plan.Rows})
		if err != nil {
			if errors.Is(err, task.ErrConflict) {
				a.loaded = false // someone has this id; reload before trusting the cache
			}
			return nil, err
		}
		if replay != nil {
			return &Reply{Task: replay, Replayed: true}, nil
		}
		a.loaded, a.cur, a.alarms = true, &t, plan.Rows
		a.deps.Committed()
		if t.IsSeries() {
			a.startSeries(ctx, t, now, req.CorrelationID)
		}
		return &Reply{Task: &t, Changed: true}, nil
	})
}

// Get returns the task.
func (a *TaskActor) Get(ctx context.Context, req *Request) (*Reply, error) {
	return a.call(ctx, "get", func(time.Time) (*Reply, error) {
		t, err := a.owned(ctx, *req)
		if err != nil {
			return nil, err
		}
		return &Reply{Task: &t}, nil
	})
}

// Update applies a partial update.
func (a *TaskActor) Update(ctx context.Context, req *UpdateRequest) (*Reply, error) {
	return a.write(ctx, "update", req.Request, pastPolicy(req.FirePastReminders), func(cur task.Task, now time.Time) (task.Task, task.EventType, []string, error) {
		next, changed, err := a.deps.Limits.Apply(cur, req.Patch, now)
		return next, task.EventUpdated, changed, err
	})
}

// Complete marks the task completed; completing a completed task changes nothing.
func (a *TaskActor) Complete(ctx context.Context, req *Request) (*Reply, error) {
	return a.write(ctx, "complete", *req, task.PastSkip, func(cur task.Task, now time.Time) (task.Task, task.EventType, []string, error) {
		next, changed, _ := cur.Complete(now)
		return next, task.EventCompleted, changed, nil
	})
}

// Uncomplete reopens the task; reopening an open task changes nothing.
func (a *TaskActor) Uncomplete(ctx context.Context, req *Request) (*Reply, error) {
	return a.write(ctx, "uncomplete", *req, task.PastSkip, func(cur task.Task, now time.Time) (task.Task, task.EventType, []string, error) {
		next, changed, _ := cur.Uncomplete(now)
		return next, task.EventUpdated, changed, nil
	})
}

// Delete deletes the task. Its history stays in the audit log.
func (a *TaskActor) Delete(ctx context.Context, req *Request) (*Reply, error) {
	return a.call(ctx, "delete", func(now time.Time) (*Reply, error) { return a.remove(ctx, *req, now, nil) })
}

func (a *TaskActor) remove(ctx context.Context, req Request, now time.Time, item *task.OperationItem) (*Reply, error) {
	cur, err := a.owned(ctx, req)
	if err != nil {
		return nil, err
	}
	gone := cur.Delete(now)
	ended := cur.Clone()
	ended.Completed = true // a deleted task wants no alarms
	plan, err := task.PlanAlarms(ended, a.alarms, now, task.PastSkip)
	if err != nil {
		return nil, err
	}
	ev := task.NewEvent(task.EventDeleted, gone, nil, req.CorrelationID, now)
	if err := a.deps.Store.Delete(ctx, cur.ID, cur.Version, ev, task.Extras{Item: item, Alarms: plan.Rows}); err != nil {
		a.loaded = false
		return nil, err
	}
	before := a.alarms
	a.cur, a.alarms = nil, task.MergeAlarms(a.alarms, plan.Rows)
	a.deps.Committed()
	a.armAfter(ctx, cur.ID, before, a.alarms)
	if cur.IsSeries() {
		a.stopSeries(ctx, cur, now)
	}
	return &Reply{Task: &gone, Changed: true}, nil
}

// Ping does nothing: it measures the bare cost of an actor call.
func (a *TaskActor) Ping(context.Context) (*Reply, error) {
	return &Reply{}, nil
}

type change func(cur task.Task, now time.Time) (next task.Task, typ task.EventType, changed []string, err error)

// write runs a read-modify-write of the task. If the cached snapshot turns
// out stale (a version conflict) it reloads and tries once more.
func (a *TaskActor) write(ctx context.Context, op string, req Request, past task.Past, fn change) (*Reply, error) {
	return a.call(ctx, op, func(now time.Time) (*Reply, error) { return a.change(ctx, req, now, past, fn, nil) })
}

// change is write's body, for methods that are already inside a call; a
// non-nil item is recorded with the write. The task's alarms follow the
// change (past says what to do with reminders whose time has passed).
func (a *TaskActor) change(ctx context.Context, req Request, now time.Time, past task.Past, fn change, item *task.OperationItem) (*Reply, error) {
	{
		for attempt := 0; ; attempt++ {
			cur, err := a.owned(ctx, req)
			if err != nil {
				return nil, err
			}
			next, typ, changed, err := fn(cur, now)
			if err != nil {
				return nil, err
			}
			if len(changed) == 0 {
				return &Reply{Task: &cur}, nil
			}
			plan, err := task.PlanAlarms(next, a.alarms, now, past)
			if err != nil {
				return nil, err
			}
			merged := task.MergeAlarms(a.alarms, plan.Rows)
			if st := task.ReminderStatus(merged); !equalStr(st, next.ReminderStatus) {
				next.ReminderStatus = st
				changed = append(changed, "reminder_status")
				slices.Sort(changed)
			}
			if err := a.armBefore(ctx, cur.ID, a.alarms, merged); err != nil {
				return nil, err
			}
			ev := task.NewEvent(typ, next, changed, req.CorrelationID, now)
			err = a.deps.Store.Update(ctx, next, cur.Version, ev, task.Extras{Item: item, Alarms: plan.Rows})
			if errors.Is(err, task.ErrConflict) && attempt == 0 {
				a.deps.Logger.WarnContext(ctx, "task snapshot was stale; reloading", "task_id", cur.ID, "version", cur.Version)
				a.loaded = false
				continue
			}
			if err != nil {
				a.loaded = false
				return nil, err
			}
			before := a.alarms
			a.cur, a.alarms = &next, merged
			a.deps.Committed()
			a.armAfter(ctx, cur.ID, before, merged)
			a.afterWrite(ctx, cur, next, now, req.CorrelationID)
			return &Reply{Task: &next, Changed: true}, nil
		}
	}
}

// owned returns the current task if req's user owns it and its version
// matches req.IfMatch.
func (a *TaskActor) owned(ctx context.Context, req Request) (task.Task, error) {
	cur, err := a.load(ctx)
	if err != nil {
		return task.Task{}, err
	}
	if cur == nil || cur.UserID != req.UserID {
		return task.Task{}, task.ErrNotFound
	}
	if req.IfMatch != 0 && req.IfMatch != cur.Version {
		return task.Task{}, task.ErrVersionMismatch
	}
	return cur.Clone(), nil
}

// load returns the task as stored (nil when it does not exist), reading
// the database only when the snapshot is not loaded.
func (a *TaskActor) load(ctx context.Context) (*task.Task, error) {
	if !a.loaded {
		id, err := a.taskID()
		if err != nil {
			return nil, err
		}
		t, err := a.deps.Store.Get(ctx, id)
		switch {
		case errors.Is(err, task.ErrNotFound):
			a.cur = nil
		case err != nil:
			return nil, err
		default:
			a.cur = &t
		}
		if a.alarms, err = a.deps.Store.Alarms(ctx, id); err != nil {
			return nil, err
		}
		a.loaded = true
	}
	return a.cur, nil
}

func (a *TaskActor) taskID() (uuid.UUID, error) {
	id, err := uuid.Parse(a.ID())
	if err != nil {
		return uuid.Nil, task.ErrNotFound
	}
	return id, nil
}

// call serialises, times and classifies one actor method.
func (a *TaskActor) call(ctx context.Context, op string, fn func(now time.Time) (*Reply, error)) (*Reply, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	reply, err := fn(a.deps.Now().UTC())
	outcome := "ok"
	if err != nil {
		reply = errorReply(err)
		outcome = string(reply.Error.Code)
		if reply.Error.Code == CodeInternal {
			a.deps.Logger.ErrorContext(ctx, "task actor call failed", "method", op, "task_id", a.ID(), "error", err)
		}
	}
	a.deps.Metrics.observe(op, outcome, time.Since(start))
	return reply, nil
}
