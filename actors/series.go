package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// Reminder names of a TaskActor.
const (
	// reminderSeries is the one reminder of a recurring series: due at its
	// next occurrence; its period re-fires it after a tick that failed.
	reminderSeries = "series"
	// reminderNotify retries telling a series that one of its instances
	// was completed.
	reminderNotify = "notify-series"
)

// Missed-occurrence policies of SeriesConfig.
const (
	MissedLatest = "latest"
	MissedAll    = "all"
)

// startSeries makes a new (or newly recurring, or reopened) series
// produce instances: the first one at once when it has none yet, then one
// per occurrence. Failures are logged and retried by the series reminder.
func (a *TaskActor) startSeries(ctx context.Context, t task.Task, now time.Time, corr string) {
	if t.Completed {
		return
	}
	st, found, err := a.deps.Store.Series(ctx, t.ID)
	if err == nil && found && st.LastOccurrence != nil {
		err = a.replanSeries(ctx, t, now)
	} else if err == nil {
		err = a.advanceSeries(ctx, t, now, corr)
	}
	if err != nil {
		a.deps.Logger.ErrorContext(ctx, "starting a series failed; its reminder retries", "task_id", t.ID, "error", err)
		a.armRetry(ctx, t.ID)
	}
}

// stopSeries ends a series: no more instances. Its instances stay.
func (a *TaskActor) stopSeries(ctx context.Context, t task.Task, now time.Time) {
	err := a.unregister(ctx, t.ID, reminderSeries)
	if err == nil {
		var st task.SeriesState
		var found bool
		st, found, err = a.deps.Store.Series(ctx, t.ID)
		if err == nil && found && st.EndedAt == nil {
			st.NextOccurrence, st.EndedAt = nil, &now
			err = a.deps.Store.SaveSeries(ctx, st)
		}
	}
	if err != nil {
		a.deps.Logger.ErrorContext(ctx, "stopping a series failed", "task_id", t.ID, "error", err)
	}
}

// afterWrite keeps the series machinery in step with a committed change.
func (a *TaskActor) afterWrite(ctx context.Context, prev, next task.Task, now time.Time, corr string) {
	switch {
	case next.IsSeries() && !next.Completed && (!prev.IsSeries() || prev.Completed):
		a.startSeries(ctx, next, now, corr)
	case prev.IsSeries() && (!next.IsSeries() || next.Completed):
		a.stopSeries(ctx, next, now)
	case next.IsSeries() && scheduleChanged(prev, next):
		if err := a.replanSeries(ctx, next, now); err != nil {
			a.deps.Logger.ErrorContext(ctx, "rescheduling a series failed; its reminder retries", "task_id", next.ID, "error", err)
			a.armRetry(ctx, next.ID)
		}
	}
	if next.ParentRecurringTaskID != nil && next.Completed && !prev.Completed {
		a.notifySeries(ctx, next)
	}
}

func scheduleChanged(a, b task.Task) bool {
	eqT := func(x, y *time.Time) bool { return (x == nil && y == nil) || (x != nil && y != nil && x.Equal(*y)) }
	eqS := func(x, y *string) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return !eqT(a.DueDate, b.DueDate) || !eqS(a.RecurrencePattern, b.RecurrencePattern) ||
		!eqT(a.RecurrenceEndDate, b.RecurrenceEndDate) || !eqS(a.Timezone, b.Timezone) || !eqS(a.RecurrenceMode, b.RecurrenceMode)
}

// replanSeries continues a series under a changed rule (or after a pause)
// from now: occurrences between its last one and now are not created.
func (a *TaskActor) replanSeries(ctx context.Context, t task.Task, now time.Time) error {
	st, found, err := a.deps.Store.Series(ctx, t.ID)
	if err != nil {
		return err
	}
	if !found || st.LastOccurrence == nil {
		return a.advanceSeries(ctx, t, now, "")
	}
	st.EndedAt = nil
	from := now
	if st.LastOccurrence.After(now) {
		from = *st.LastOccurrence
	}
	last := from
	st.LastOccurrence = &last
	return a.scheduleNext(ctx, t, st, now)
}

// advanceSeries is one tick: it creates the first instance if there is
// none, then (schedule mode) the instance of the newest occurrence due by
// now, counting older missed ones as skipped (or creating them, with
// MissedPolicy "all"), and arms the reminder for the next occurrence.
// Every step is idempotent: instance ids derive from the occurrence, so a
// reminder delivered twice, or a tick retried after a crash, creates
// nothing twice.
func (a *TaskActor) advanceSeries(ctx context.Context, t task.Task, now time.Time, corr string) error {
	st, _, err := a.deps.Store.Series(ctx, t.ID)
	if err != nil {
		return err
	}
	st.TaskID, st.UserID = t.ID, t.UserID
	if st.EndedAt != nil {
		return a.unregister(ctx, t.ID, reminderSeries)
	}
	rule, err := t.Rule(a.deps.Limits)
	if err != nil {
		return a.endSeries(ctx, st, now, fmt.Errorf("series %s has an invalid rule: %w", t.ID, err))
	}
	if st.LastOccurrence == nil {
		first, ok := rule.First()
		if !ok {
			return a.endSeries(ctx, st, now, nil)
		}
		if err := a.spawn(ctx, t, &st, task.InstanceID(t.ID, first), first, corr); err != nil {
			return err
		}
	}
	if t.Mode() == recurrence.Schedule {
		// An instance is created ahead of its occurrence by the series' lead
		// (its largest reminder offset), so that its reminders can fire.
		horizon := now.Add(t.Lead())
		if latest, n, ok := rule.Missed(*st.LastOccurrence, horizon); ok {
			created := 0
			if a.deps.Series.MissedPolicy == MissedAll {
				for _, occ := range rule.Occurrences(st.LastOccurrence.Add(time.Nanosecond), min(n, a.deps.Series.CatchUpMax)) {
					if occ.After(horizon) {
						break
					}
					if err := a.spawn(ctx, t, &st, task.InstanceID(t.ID, occ), occ, corr); err != nil {
						return err
					}
					created++
				}
			}
			if !st.LastOccurrence.Equal(latest) {
				if err := a.spawn(ctx, t, &st, task.InstanceID(t.ID, latest), latest, corr); err != nil {
					return err
				}
				created++
			}
			st.OccurrencesSkipped += n - created
		}
	}
	return a.scheduleNext(ctx, t, st, now)
}

// scheduleNext saves the series state and arms its reminder for the
// occurrence after the last one handled (schedule mode), or disarms it.
func (a *TaskActor) scheduleNext(ctx context.Context, t task.Task, st task.SeriesState, now time.Time) error {
	st.TaskID, st.UserID = t.ID, t.UserID
	if t.Mode() != recurrence.Schedule {
		st.NextOccurrence = nil
		if err := a.deps.Store.SaveSeries(ctx, st); err != nil {
			return err
		}
		return a.unregister(ctx, t.ID, reminderSeries)
	}
	rule, err := t.Rule(a.deps.Limits)
	if err != nil {
		return a.endSeries(ctx, st, now, err)
	}
	next, ok := rule.After(*st.LastOccurrence)
	if !ok {
		return a.endSeries(ctx, st, now, nil)
	}
	st.NextOccurrence = &next
	if err := a.deps.Store.SaveSeries(ctx, st); err != nil {
		return err
	}
	return a.register(ctx, t.ID, reminderSeries, next.Add(-t.Lead()), next)
}

func (a *TaskActor) endSeries(ctx context.Context, st task.SeriesState, now time.Time, cause error) error {
	st.NextOccurrence, st.EndedAt = nil, &now
	if cause != nil {
		a.deps.Logger.ErrorContext(ctx, "ending a series", "task_id", st.TaskID, "error", cause)
	}
	if err := a.deps.Store.SaveSeries(ctx, st); err != nil {
		return err
	}
	return a.unregister(ctx, st.TaskID, reminderSeries)
}

// spawn has the instance's own actor create the instance (idempotently)
// and records it as the series' newest.
func (a *TaskActor) spawn(ctx context.Context, t task.Task, st *task.SeriesState, id uuid.UUID, occ time.Time, corr string) error {
	reply, err := a.deps.Peers.CreateInstance(ctx, id, InstanceRequest{
		Request:    Request{UserID: t.UserID, CorrelationID: corr},
		Series:     t,
		Occurrence: occ,
	})
	if err == nil {
		err = reply.Err()
	}
	if err != nil {
		return fmt.Errorf("create instance %s of series %s at %s: %w", id, t.ID, occ.Format(time.RFC3339), err)
	}
	o := occ
	st.LastOccurrence, st.LastInstanceID = &o, &id
	st.InstancesCreated++
	return nil
}

// CreateInstance creates this actor's task as the instance of a series at
// an occurrence. Creating an instance that exists succeeds (Replayed).
func (a *TaskActor) CreateInstance(ctx context.Context, req *InstanceRequest) (*Reply, error) {
	return a.call(ctx, "create_instance", func(now time.Time) (*Reply, error) {
		id, err := a.taskID()
		if err != nil {
			return nil, err
		}
		if req.Series.UserID != req.UserID || req.Series.ID == uuid.Nil {
			return nil, task.ErrNotFound
		}
		t := task.NewInstance(id, req.Series, req.Occurrence, now)
		// An instance created late (after downtime) fires its passed
		// reminders at once rather than never.
		plan, err := task.PlanAlarms(t, nil, now, task.PastFire)
		if err != nil {
			return nil, err
		}
		t.ReminderStatus = task.ReminderStatus(plan.Rows)
		ev := task.NewEvent(task.EventCreated, t, nil, req.CorrelationID, now)
		if err := a.armBefore(ctx, id, nil, plan.Rows); err != nil {
			return nil, err
		}
		if _, err := a.deps.Store.Insert(ctx, t, ev, nil, task.Extras{Alarms: plan.Rows}); err != nil {
			if !errors.Is(err, task.ErrConflict) && !errors.Is(err, task.ErrDuplicateInstance) {
				return nil, err
			}
			a.loaded = false
			existing, lerr := a.load(ctx)
			if lerr != nil {
				return nil, lerr
			}
			if existing != nil && (existing.ParentRecurringTaskID == nil || *existing.ParentRecurringTaskID != req.Series.ID) {
				return nil, err // the id is taken by an unrelated task
			}
			return &Reply{Task: existing, Replayed: true}, nil
		}
		a.loaded, a.cur, a.alarms = true, &t, plan.Rows
		a.deps.Committed()
		return &Reply{Task: &t, Changed: true}, nil
	})
}

// SeriesInstanceCompleted is how an instance tells its series that it was
// completed. A from_completion series answers with its next instance, due
// one interval after the completion; other series ignore it. Repeated
// notices (a retry, or completing the same instance again) create nothing
// twice.
func (a *TaskActor) SeriesInstanceCompleted(ctx context.Context, req *CompletionNotice) (*Reply, error) {
	return a.call(ctx, "series_instance_completed", func(now time.Time) (*Reply, error) {
		cur, err := a.load(ctx)
		if err != nil {
			return nil, err
		}
		if cur == nil || !cur.IsSeries() || cur.Completed || cur.Mode() != recurrence.FromCompletion {
			return &Reply{}, nil
		}
		t := cur.Clone()
		st, found, err := a.deps.Store.Series(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		if !found || st.EndedAt != nil || st.LastInstanceID == nil || *st.LastInstanceID != req.InstanceID {
			return &Reply{}, nil // not the newest instance: its follow-up exists or is not due
		}
		rule, err := t.Rule(a.deps.Limits)
		if err != nil {
			return nil, a.endSeries(ctx, st, now, err)
		}
		next := rule.AddInterval(req.CompletedAt)
		if !rule.Allows(next, st.InstancesCreated+1) {
			return &Reply{}, a.endSeries(ctx, st, now, nil)
		}
		if err := a.spawn(ctx, t, &st, task.FollowUpID(t.ID, req.InstanceID), next, ""); err != nil {
			return nil, err
		}
		return &Reply{}, a.deps.Store.SaveSeries(ctx, st)
	})
}

// notifySeries tells an instance's series that it was completed, and
// arranges a retry when that fails.
func (a *TaskActor) notifySeries(ctx context.Context, t task.Task) {
	notice := CompletionNotice{InstanceID: t.ID, CompletedAt: *t.CompletedAt}
	err := a.sendNotice(ctx, *t.ParentRecurringTaskID, notice)
	if err == nil {
		return
	}
	a.deps.Logger.WarnContext(ctx, "telling the series about a completion failed; retrying", "task_id", t.ID, "error", err)
	data, _ := json.Marshal(notice)
	if rerr := a.registerData(ctx, t.ID, reminderNotify, a.deps.Now().Add(2*time.Second), data); rerr != nil {
		a.deps.Logger.ErrorContext(ctx, "cannot arrange the retry", "task_id", t.ID, "error", rerr)
	}
}

func (a *TaskActor) sendNotice(ctx context.Context, series uuid.UUID, notice CompletionNotice) error {
	reply, err := a.deps.Peers.SeriesInstanceCompleted(ctx, series, notice)
	if err == nil {
		err = reply.Err()
	}
	return err
}

// Remind receives this actor's Dapr reminders (actorhost.Actor). Work
// that fails is retried by the reminder's period, not by Dapr: a reminder
// callback has no failure policy for app errors. Each firing starts a
// trace of its own: the events it writes are traced from here.
func (a *TaskActor) Remind(ctx context.Context, name string, data []byte) {
	ctx, span := a.tracer.Start(ctx, TaskActorType+".Remind", trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("dapr.actor.id", a.id), attribute.String("dapr.reminder.name", name))
	}
	_, _ = a.call(ctx, "reminder_"+name, func(now time.Time) (*Reply, error) {
		id, err := a.taskID()
		if err != nil {
			return nil, err
		}
		cur, err := a.load(ctx)
		if err != nil {
			return nil, err
		}
		if isAlarmReminder(name) {
			return nil, a.fireDue(ctx, id, name, now)
		}
		switch name {
		case reminderSeries:
			if cur == nil || !cur.IsSeries() || cur.Completed {
				return nil, a.unregister(ctx, id, name)
			}
			var armed struct{ Occurrence time.Time }
			if json.Unmarshal(data, &armed) == nil && !armed.Occurrence.IsZero() {
				a.deps.Metrics.ticked(now.Sub(armed.Occurrence.Add(-cur.Lead())))
			}
			return nil, a.advanceSeries(ctx, cur.Clone(), now, "")
		case reminderNotify:
			var notice CompletionNotice
			if err := json.Unmarshal(data, &notice); err != nil || cur == nil || cur.ParentRecurringTaskID == nil {
				return nil, a.unregister(ctx, id, name)
			}
			if err := a.sendNotice(ctx, *cur.ParentRecurringTaskID, notice); err != nil {
				return nil, err // the period re-fires it
			}
			return nil, a.unregister(ctx, id, name)
		default:
			a.deps.Logger.WarnContext(ctx, "unknown reminder; removing it", "task_id", id, "reminder", name)
			return nil, a.unregister(ctx, id, name)
		}
	})
}

// StartSeriesOperation starts a series-wide change (update or delete of
// the series and its open instances) as a workflow and returns its id.
func (a *TaskActor) StartSeriesOperation(ctx context.Context, req *OperationRequest) (*Reply, error) {
	return a.call(ctx, "start_series_operation", func(now time.Time) (*Reply, error) {
		cur, err := a.owned(ctx, req.Request)
		if err != nil {
			return nil, err
		}
		if !cur.IsSeries() {
			return nil, task.ErrNotSeries
		}
		switch req.Kind {
		case OpSeriesUpdate:
			if _, _, err := a.deps.Limits.Apply(cur, req.Patch, now); err != nil {
				return nil, err
			}
		case OpSeriesDelete:
		default:
			return nil, fmt.Errorf("unknown series operation %q", req.Kind)
		}
		// The operation keeps the request's trace context: the workflow's
		// actor calls (made without a span of their own) stay in its trace.
		op := SeriesOperation{ID: uuid.Must(uuid.NewV7()), UserID: req.UserID, SeriesID: cur.ID, Kind: req.Kind,
			Patch: req.Patch, CorrelationID: req.CorrelationID, Traceparent: tracing.Traceparent(ctx)}
		if err := a.deps.Workflows.StartSeriesOperation(ctx, op); err != nil {
			return nil, fmt.Errorf("start operation: %w", err)
		}
		return &Reply{Task: &cur, OperationID: &op.ID}, nil
	})
}

// ControlOperation retries or terminates one of this series' operations
// for an operator (the API checked the operator's role). Going through the
// series' actor keeps a retry from racing a new operation it starts.
func (a *TaskActor) ControlOperation(ctx context.Context, req *ControlRequest) (*Reply, error) {
	return a.call(ctx, "control_operation", func(time.Time) (*Reply, error) {
		switch req.Action {
		case ActionRetry:
			if err := a.deps.Workflows.RetryOperation(ctx, req.OperationID); err != nil {
				return nil, err
			}
		case ActionTerminate:
			if err := a.deps.Workflows.TerminateOperation(ctx, req.OperationID, req.By); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unknown action %q", ErrOperationState, req.Action)
		}
		return &Reply{OperationID: &req.OperationID, Outcome: req.Action}, nil
	})
}

// ApplySeriesOperation applies a series-wide change to the series task
// itself (called by the operation's workflow; idempotent).
func (a *TaskActor) ApplySeriesOperation(ctx context.Context, op *SeriesOperation) (*Reply, error) {
	return a.call(ctx, "apply_series_operation", func(now time.Time) (*Reply, error) {
		return a.applyOperation(ctx, op, now, op.Patch)
	})
}

// SeriesChange applies a series-wide change to this instance if it is
// still open: completed instances stay as history (called by the
// operation's workflow; idempotent).
func (a *TaskActor) SeriesChange(ctx context.Context, op *SeriesOperation) (*Reply, error) {
	return a.call(ctx, "series_change", func(now time.Time) (*Reply, error) {
		cur, err := a.load(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case cur == nil || cur.UserID != op.UserID:
			return &Reply{Outcome: OutcomeGone}, nil
		case cur.ParentRecurringTaskID == nil || *cur.ParentRecurringTaskID != op.SeriesID || cur.Completed:
			return &Reply{Outcome: OutcomeKept}, nil
		}
		return a.applyOperation(ctx, op, now, op.Patch.Template())
	})
}

func (a *TaskActor) applyOperation(ctx context.Context, op *SeriesOperation, now time.Time, patch task.Patch) (*Reply, error) {
	req := Request{UserID: op.UserID, CorrelationID: op.CorrelationID}
	var reply *Reply
	var err error
	switch op.Kind {
	case OpSeriesDelete:
		reply, err = a.remove(ctx, req, now, &task.OperationItem{OperationID: op.ID, Outcome: OutcomeDeleted})
		if err == nil {
			reply.Outcome = OutcomeDeleted
		}
	case OpSeriesUpdate:
		reply, err = a.change(ctx, req, now, task.PastSkip, func(cur task.Task, now time.Time) (task.Task, task.EventType, []string, error) {
			next, changed, err := a.deps.Limits.Apply(cur, patch, now)
			return next, task.EventUpdated, changed, err
		}, &task.OperationItem{OperationID: op.ID, Outcome: OutcomeUpdated})
		if err == nil {
			reply.Outcome = OutcomeUnchanged
			if reply.Changed {
				reply.Outcome = OutcomeUpdated
			}
		}
	default:
		return nil, fmt.Errorf("unknown series operation %q", op.Kind)
	}
	if errors.Is(err, task.ErrNotFound) {
		return &Reply{Outcome: OutcomeGone}, nil
	}
	return reply, err
}

// register arms (or re-arms) a reminder due at dueAt; data records when.
func (a *TaskActor) register(ctx context.Context, id uuid.UUID, name string, dueAt, occurrence time.Time) error {
	data, _ := json.Marshal(map[string]time.Time{"occurrence": occurrence})
	return a.registerData(ctx, id, name, dueAt, data)
}

func (a *TaskActor) registerData(ctx context.Context, id uuid.UUID, name string, dueAt time.Time, data []byte) error {
	err := a.deps.Reminders.RegisterActorReminder(ctx, &dapr.RegisterActorReminderRequest{
		ActorType: TaskActorType,
		ActorID:   id.String(),
		Name:      name,
		DueTime:   dueAt.UTC().Format(time.RFC3339Nano),
		Period:    a.deps.Series.RetryPeriod.String(),
		Data:      data,
	})
	if err != nil {
		return fmt.Errorf("register reminder %s of %s: %w", name, id, err)
	}
	return nil
}

func (a *TaskActor) unregister(ctx context.Context, id uuid.UUID, name string) error {
	err := a.deps.Reminders.UnregisterActorReminder(ctx, &dapr.UnregisterActorReminderRequest{
		ActorType: TaskActorType, ActorID: id.String(), Name: name,
	})
	if err != nil {
		return fmt.Errorf("unregister reminder %s of %s: %w", name, id, err)
	}
	return nil
}

// armRetry makes the series reminder fire again soon after a failed start.
func (a *TaskActor) armRetry(ctx context.Context, id uuid.UUID) {
	at := a.deps.Now().Add(a.deps.Series.RetryPeriod)
	if err := a.register(ctx, id, reminderSeries, at, at); err != nil {
		a.deps.Logger.ErrorContext(ctx, "cannot arm the series retry", "task_id", id, "error", err)
	}
}
