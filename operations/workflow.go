// Package operations runs changes that span many tasks as Dapr workflows
// (durabletask-go). A series-wide update or delete is one workflow whose
// instance id is the operation id: it applies the change to the series,
// lists the series' open instances, applies the change to each through
// the instance's actor (idempotent activities, retried), and records
// progress in PostgreSQL, where GET /api/v1/operations/{id} reads it. A
// workflow interrupted by a crash resumes from its history: finished
// activities are not run again, an interrupted one runs again and changes
// nothing the second time.
package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/dapr/durabletask-go/workflow"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// Names registered with the workflow engine; changing one breaks running
// workflows.
const (
	SeriesWorkflow       = "SeriesOperation"
	activityApplySeries  = "ApplyToSeries"
	activityListOpen     = "ListOpenInstances"
	activityApplyToOne   = "ApplyToInstance"
	activityFinish       = "FinishOperation"
	fanOut               = 8 // instances changed in parallel
	defaultActivityRetry = 10
)

// Actors is what the activities call on task actors.
type Actors interface {
	ApplySeriesOperation(ctx context.Context, series uuid.UUID, op actors.SeriesOperation) (*actors.Reply, error)
	SeriesChange(ctx context.Context, instance uuid.UUID, op actors.SeriesOperation) (*actors.Reply, error)
}

// Store is what the activities read and write in PostgreSQL.
type Store interface {
	OpenInstances(ctx context.Context, series uuid.UUID) ([]task.Instance, error)
}

// Progress records operations and their progress.
type Progress interface {
	Create(ctx context.Context, op postgres.Operation) error
	Start(ctx context.Context, id uuid.UUID, total int) error
	Record(ctx context.Context, id, taskID uuid.UUID, outcome string) error
	Finish(ctx context.Context, id uuid.UUID, failure string) error
	Operation(ctx context.Context, id uuid.UUID) (postgres.Operation, error)
	Reset(ctx context.Context, id uuid.UUID) (bool, error)
}

// Scheduler schedules workflow instances (the durabletask client).
type Scheduler interface {
	ScheduleWorkflow(ctx context.Context, name string, opts ...workflow.NewWorkflowOptions) (string, error)
	TerminateWorkflow(ctx context.Context, id string, opts ...workflow.TerminateOptions) error
	PurgeWorkflowState(ctx context.Context, id string, opts ...workflow.PurgeOptions) error
	WaitForWorkflowCompletion(ctx context.Context, id string, opts ...workflow.FetchWorkflowMetadataOptions) (*workflow.WorkflowMetadata, error)
}

// finishingWait bounds how long a retry waits for a workflow to finish: its
// last activity marks the operation before the workflow itself completes.
const finishingWait = 5 * time.Second

// Runner owns the series-operation workflow: it starts operations (the
// actors' Workflows dependency) and registers the workflow and its
// activities. Safe for concurrent use.
type Runner struct {
	actors    Actors
	store     Store
	progress  Progress
	scheduler Scheduler
	log       *slog.Logger
	// crashAfter, when > 0, exits the process after that many instance
	// activities completed: the failpoint of the crash-recovery test.
	crashAfter int64
	applied    atomic.Int64
}

// Config configures a Runner.
type Config struct {
	// CrashAfterActivities is the workflow-crash failpoint (0: off).
	CrashAfterActivities int
}

// NewRunner returns a Runner.
func NewRunner(cfg Config, a Actors, s Store, p Progress, sch Scheduler, logger *slog.Logger) *Runner {
	return &Runner{actors: a, store: s, progress: p, scheduler: sch, log: logger.With("component", "operations"),
		crashAfter: int64(cfg.CrashAfterActivities)}
}

// Register adds the workflow and its activities to reg.
func (r *Runner) Register(reg *workflow.Registry) error {
	return errors.Join(
		reg.AddWorkflowN(SeriesWorkflow, r.seriesWorkflow),
		reg.AddActivityN(activityApplySeries, r.applyToSeries),
		reg.AddActivityN(activityListOpen, r.listOpen),
		reg.AddActivityN(activityApplyToOne, r.applyToInstance),
		reg.AddActivityN(activityFinish, r.finish),
	)
}

// StartSeriesOperation records the operation and schedules its workflow.
// Starting one whose workflow already exists succeeds.
func (r *Runner) StartSeriesOperation(ctx context.Context, op actors.SeriesOperation) error {
	request, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if err := r.progress.Create(ctx, postgres.Operation{ID: op.ID, UserID: op.UserID, Kind: op.Kind, TaskID: op.SeriesID, Request: request}); err != nil {
		return err
	}
	_, err = r.scheduler.ScheduleWorkflow(ctx, SeriesWorkflow, workflow.WithInstanceID(op.ID.String()), workflow.WithInput(op))
	if err != nil {
		_ = r.progress.Finish(context.WithoutCancel(ctx), op.ID, "could not start: "+err.Error())
		return fmt.Errorf("schedule workflow %s: %w", op.ID, err)
	}
	return nil
}

// RetryOperation runs a failed operation's workflow again under the same
// id: its old history is purged, the operation returns to pending, and the
// workflow starts over from the recorded request. What the first run did
// is done again idempotently (SeriesChange and the item records are).
func (r *Runner) RetryOperation(ctx context.Context, id uuid.UUID) error {
	op, err := r.progress.Operation(ctx, id)
	if err != nil {
		return err
	}
	if op.Status != "failed" {
		return fmt.Errorf("%w: operation %s is %s; only a failed one can be retried", actors.ErrOperationState, id, op.Status)
	}
	var so actors.SeriesOperation
	if err := json.Unmarshal(op.Request, &so); err != nil {
		return fmt.Errorf("operation %s: undecodable request: %w", id, err)
	}
	// A failed or terminated instance keeps its id until purged; an
	// instance that never started has nothing to purge. Purging refuses a
	// workflow that is still finishing: wait for it, briefly, and again.
	if err := r.scheduler.PurgeWorkflowState(ctx, id.String()); err != nil {
		wait, cancel := context.WithTimeout(ctx, finishingWait)
		_, werr := r.scheduler.WaitForWorkflowCompletion(wait, id.String())
		cancel()
		if werr == nil {
			err = r.scheduler.PurgeWorkflowState(ctx, id.String())
		}
		if err != nil {
			r.log.InfoContext(ctx, "the failed workflow's history was not purged", "operation", id, "error", err)
		}
	}
	reset, err := r.progress.Reset(ctx, id)
	if err != nil {
		return err
	}
	if !reset {
		return fmt.Errorf("%w: operation %s is no longer failed", actors.ErrOperationState, id)
	}
	if _, err := r.scheduler.ScheduleWorkflow(ctx, SeriesWorkflow, workflow.WithInstanceID(id.String()), workflow.WithInput(so)); err != nil {
		_ = r.progress.Finish(context.WithoutCancel(ctx), id, "could not restart: "+err.Error())
		return fmt.Errorf("reschedule workflow %s: %w", id, err)
	}
	r.log.InfoContext(ctx, "operation retried", "operation", id)
	return nil
}

// TerminateOperation stops a pending or running operation's workflow and
// marks the operation failed, naming who stopped it.
func (r *Runner) TerminateOperation(ctx context.Context, id uuid.UUID, by string) error {
	op, err := r.progress.Operation(ctx, id)
	if err != nil {
		return err
	}
	if op.Status != "pending" && op.Status != "running" {
		return fmt.Errorf("%w: operation %s is %s; only a pending or running one can be terminated", actors.ErrOperationState, id, op.Status)
	}
	if err := r.scheduler.TerminateWorkflow(ctx, id.String()); err != nil {
		return fmt.Errorf("terminate workflow %s: %w", id, err)
	}
	if err := r.progress.Finish(ctx, id, "terminated by "+by); err != nil {
		return err
	}
	r.log.WarnContext(ctx, "operation terminated", "operation", id, "by", by)
	return nil
}

// retry is a new policy for each activity call: durabletask's
// RetryPolicy.Validate fills in the fields left zero in the policy it is
// given, so workflows running at once must not share one (the e2e tests'
// race detector caught a package-level policy being written that way).
func retry() *workflow.RetryPolicy {
	return &workflow.RetryPolicy{
		MaxAttempts:          defaultActivityRetry,
		InitialRetryInterval: 250 * time.Millisecond,
		BackoffCoefficient:   2,
		MaxRetryInterval:     10 * time.Second,
	}
}

type instanceInput struct {
	Op       actors.SeriesOperation `json:"op"`
	Instance uuid.UUID              `json:"instance"`
}

// seriesWorkflow is deterministic: all I/O happens in activities.
func (r *Runner) seriesWorkflow(ctx *workflow.WorkflowContext) (any, error) {
	var op actors.SeriesOperation
	if err := ctx.GetInput(&op); err != nil {
		return nil, err
	}
	fail := func(stage string, err error) (any, error) {
		msg := fmt.Sprintf("%s: %v", stage, err)
		_ = ctx.CallActivity(activityFinish, workflow.WithActivityInput(finishInput{Op: op.ID, Failure: msg}),
			workflow.WithActivityRetryPolicy(retry())).Await(nil)
		return nil, errors.New(msg)
	}
	// The series first: instances it creates from now on carry the change.
	if err := ctx.CallActivity(activityApplySeries, workflow.WithActivityInput(op), workflow.WithActivityRetryPolicy(retry())).Await(nil); err != nil {
		return fail("series", err)
	}
	var open []uuid.UUID
	if err := ctx.CallActivity(activityListOpen, workflow.WithActivityInput(op), workflow.WithActivityRetryPolicy(retry())).Await(&open); err != nil {
		return fail("list instances", err)
	}
	ctx.SetCustomStatus(fmt.Sprintf("applying to %d instances", len(open)))
	for start := 0; start < len(open); start += fanOut {
		batch := open[start:min(start+fanOut, len(open))]
		tasks := make([]workflow.Task, len(batch))
		for i, id := range batch {
			tasks[i] = ctx.CallActivity(activityApplyToOne, workflow.WithActivityInput(instanceInput{Op: op, Instance: id}),
				workflow.WithActivityRetryPolicy(retry()))
		}
		for _, t := range tasks {
			if err := t.Await(nil); err != nil {
				return fail("instances", err)
			}
		}
	}
	if err := ctx.CallActivity(activityFinish, workflow.WithActivityInput(finishInput{Op: op.ID}),
		workflow.WithActivityRetryPolicy(retry())).Await(nil); err != nil {
		return nil, err
	}
	return len(open), nil
}

func (r *Runner) applyToSeries(ctx workflow.ActivityContext) (any, error) {
	var op actors.SeriesOperation
	if err := ctx.GetInput(&op); err != nil {
		return nil, err
	}
	reply, err := r.actors.ApplySeriesOperation(ctx.Context(), op.SeriesID, op)
	if err == nil {
		err = reply.Err()
	}
	if err != nil {
		return nil, err
	}
	return nil, r.progress.Record(ctx.Context(), op.ID, op.SeriesID, reply.Outcome)
}

func (r *Runner) listOpen(ctx workflow.ActivityContext) (any, error) {
	var op actors.SeriesOperation
	if err := ctx.GetInput(&op); err != nil {
		return nil, err
	}
	open, err := r.store.OpenInstances(ctx.Context(), op.SeriesID)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(open))
	for i, in := range open {
		ids[i] = in.ID
	}
	// The series itself counts as one of the tasks the operation deals with.
	return ids, r.progress.Start(ctx.Context(), op.ID, len(ids)+1)
}

func (r *Runner) applyToInstance(ctx workflow.ActivityContext) (any, error) {
	var in instanceInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	reply, err := r.actors.SeriesChange(ctx.Context(), in.Instance, in.Op)
	if err == nil {
		err = reply.Err()
	}
	if err != nil {
		return nil, err
	}
	if err := r.progress.Record(ctx.Context(), in.Op.ID, in.Instance, reply.Outcome); err != nil {
		return nil, err
	}
	if r.crashAfter > 0 && r.applied.Add(1) == r.crashAfter {
		r.log.Error("failpoint workflow-crash-after: exiting mid-workflow", "operation", in.Op.ID)
		os.Exit(3)
	}
	return reply.Outcome, nil
}

type finishInput struct {
	Op      uuid.UUID `json:"op"`
	Failure string    `json:"failure,omitempty"`
}

func (r *Runner) finish(ctx workflow.ActivityContext) (any, error) {
	var in finishInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	return nil, r.progress.Finish(ctx.Context(), in.Op, in.Failure)
}
