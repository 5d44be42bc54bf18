package api

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// DefaultAdminRole is the role (in the token's roles claim) that opens the
// ops view.
const DefaultAdminRole = "taskflow-admin"

// OpsStore is what the ops view reads and changes in PostgreSQL.
type OpsStore interface {
	Instances(ctx context.Context) ([]postgres.AppInstance, time.Time, error)
	PendingReminders(ctx context.Context, limit int) ([]postgres.PendingReminder, time.Time, error)
	DeadLetters(ctx context.Context, pendingOnly bool, limit int) ([]postgres.DeadLetter, error)
	DeadLetter(ctx context.Context, id int64) (postgres.DeadLetter, error)
	ReplayDeadLetter(ctx context.Context, id int64, by string) (postgres.DeadLetter, error)
	PendingDeadLetters(ctx context.Context) (int64, error)
}

// OpsOperations lists every user's operations.
type OpsOperations interface {
	AllOperations(ctx context.Context, status string, limit int) ([]postgres.Operation, error)
	Operation(ctx context.Context, id uuid.UUID) (postgres.Operation, error)
}

// OperationControl retries or terminates an operation through its series' actor.
type OperationControl interface {
	ControlOperation(ctx context.Context, series uuid.UUID, req actors.ControlRequest) (*actors.Reply, error)
}

// OutboxStats reports the outbox backlog.
type OutboxStats interface {
	Stats(ctx context.Context) (pending int64, oldest time.Duration, err error)
}

// ConsumerLag is one consumer group's lag on the broker.
type ConsumerLag struct {
	Group   string           `json:"group"`
	State   string           `json:"state"`
	Members int              `json:"members"`
	Lag     int64            `json:"lag"`
	Topics  map[string]int64 `json:"topics"`
}

// ConsumerLags reads the subscribers' consumer groups from the broker.
type ConsumerLags interface {
	Lags(ctx context.Context) ([]ConsumerLag, error)
}

// SchedulerReminders tells whether Dapr's scheduler holds an actor reminder.
type SchedulerReminders interface {
	Held(ctx context.Context, taskID uuid.UUID, name string) (bool, error)
}

// OpsDeps are the ops view's collaborators; Store nil disables /api/v1/ops.
type OpsDeps struct {
	Store      OpsStore
	Operations OpsOperations
	Control    OperationControl
	Outbox     OutboxStats
	Consumers  ConsumerLags       // nil: consumer lag is not reported
	Scheduler  SchedulerReminders // nil: reminders are not checked against the scheduler
	// AdminRole is the role that opens the ops view; DefaultAdminRole when empty.
	AdminRole string
}

// staleAfter is when an app instance that stopped reporting is shown as
// stale: three missed heartbeats.
const staleAfter = 30 * time.Second

// schedulerChecks bounds the reminders checked against the scheduler per
// request (each is a sidecar call).
const schedulerChecks = 50

type opsHandlers struct {
	OpsDeps
	callTimeout time.Duration
}

func (h *opsHandlers) routes(v1 fiber.Router) {
	ops := v1.Group("/ops", h.requireAdmin)
	ops.Get("", h.index)
	ops.Get("/apps", h.apps)
	ops.Get("/reminders", h.reminders)
	ops.Get("/operations", h.operations)
	ops.Post("/operations/:id/retry", h.control(actors.ActionRetry))
	ops.Post("/operations/:id/terminate", h.control(actors.ActionTerminate))
	ops.Get("/outbox", h.outbox)
	ops.Get("/dead-letters", h.deadLetters)
	ops.Get("/dead-letters/:id", h.deadLetter)
	ops.Post("/dead-letters/:id/replay", h.replay)
}

func (h *opsHandlers) requireAdmin(c *fiber.Ctx) error {
	if !hasRole(c, h.AdminRole) {
		return problem(fiber.StatusForbidden, "forbidden", "Forbidden",
			"the ops view needs the "+h.AdminRole+" role in the token")
	}
	return c.Next()
}

func (h *opsHandlers) ctx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), h.callTimeout)
}

// index answers whether the bearer may use the ops view (the web app asks
// to decide whether to show it) and lists its sections.
func (h *opsHandlers) index(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"admin": true, "role": h.AdminRole,
		"sections": []string{"apps", "reminders", "operations", "outbox", "dead-letters"}})
}

// sidecarView is what the ops view shows of a sidecar's metadata.
type sidecarView struct {
	AppID          string          `json:"app_id,omitempty"`
	RuntimeVersion string          `json:"runtime_version,omitempty"`
	Components     []componentView `json:"components"`
	Subscriptions  []subView       `json:"subscriptions"`
	Actors         []actorCount    `json:"actors"`
	ActorRuntime   string          `json:"actor_runtime,omitempty"`
	Placement      string          `json:"placement,omitempty"`
	Scheduler      []string        `json:"scheduler"`
	AppProtocol    string          `json:"app_protocol,omitempty"`
	AppPort        int             `json:"app_port,omitempty"`
	Error          string          `json:"error,omitempty"`
}

type componentView struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

type subView struct {
	PubSub          string `json:"pubsub"`
	Topic           string `json:"topic"`
	DeadLetterTopic string `json:"dead_letter_topic,omitempty"`
}

// actorCount is an actor type the sidecar hosts and, when the app counts
// them, its active actors (nil: not counted, such as Dapr's own workflow
// actor types).
type actorCount struct {
	Type  string `json:"type"`
	Count *int   `json:"count"`
}

// metadataDoc is the part of Dapr's GET /v1.0/metadata the view reads.
type metadataDoc struct {
	ID             string          `json:"id"`
	RuntimeVersion string          `json:"runtimeVersion"`
	Components     []componentView `json:"components"`
	Subscriptions  []struct {
		PubsubName      string `json:"pubsubname"`
		Topic           string `json:"topic"`
		DeadLetterTopic string `json:"deadLetterTopic"`
	} `json:"subscriptions"`
	Actors       []actorCount `json:"actors"`
	ActorRuntime *struct {
		RuntimeStatus string       `json:"runtimeStatus"`
		ActiveActors  []actorCount `json:"activeActors"`
		Placement     string       `json:"placement"`
	} `json:"actorRuntime"`
	Scheduler *struct {
		ConnectedAddresses []string `json:"connected_addresses"`
	} `json:"scheduler"`
	AppConnectionProperties struct {
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
	} `json:"appConnectionProperties"`
}

func viewSidecar(raw json.RawMessage, failure *string) sidecarView {
	v := sidecarView{Components: []componentView{}, Subscriptions: []subView{}, Actors: []actorCount{}, Scheduler: []string{}}
	if failure != nil {
		v.Error = *failure
		return v
	}
	var doc metadataDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		v.Error = "unreadable sidecar metadata"
		return v
	}
	v.AppID, v.RuntimeVersion = doc.ID, doc.RuntimeVersion
	v.Components = append(v.Components, doc.Components...)
	for _, s := range doc.Subscriptions {
		v.Subscriptions = append(v.Subscriptions, subView{PubSub: s.PubsubName, Topic: s.Topic, DeadLetterTopic: s.DeadLetterTopic})
	}
	v.Actors = append(v.Actors, doc.Actors...)
	if rt := doc.ActorRuntime; rt != nil {
		v.ActorRuntime, v.Placement = rt.RuntimeStatus, rt.Placement
		if len(v.Actors) == 0 {
			v.Actors = append(v.Actors, rt.ActiveActors...)
		}
	}
	if doc.Scheduler != nil {
		v.Scheduler = append(v.Scheduler, doc.Scheduler.ConnectedAddresses...)
	}
	v.AppProtocol, v.AppPort = doc.AppConnectionProperties.Protocol, doc.AppConnectionProperties.Port
	return v
}

type instanceView struct {
	InstanceID  string      `json:"instance_id"`
	Host        string      `json:"host"`
	AppVersion  string      `json:"app_version"`
	StartedAt   time.Time   `json:"started_at"`
	HeartbeatAt time.Time   `json:"heartbeat_at"`
	Status      string      `json:"status"` // up | stale | sidecar_unreachable
	Sidecar     sidecarView `json:"sidecar"`
}

type appView struct {
	AppID     string         `json:"app_id"`
	Up        int            `json:"up"`
	Instances []instanceView `json:"instances"`
}

type reach struct {
	Reachable bool   `json:"reachable"`
	Detail    string `json:"detail"`
}

func (h *opsHandlers) apps(c *fiber.Ctx) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	instances, now, err := h.Store.Instances(ctx)
	if err != nil {
		return err
	}
	apps := []*appView{}
	byID := map[string]*appView{}
	placement := reach{Detail: "no running instance reports a placement connection"}
	scheduler := reach{Detail: "no running instance reports a scheduler connection"}
	for _, in := range instances {
		a, ok := byID[in.AppID]
		if !ok {
			a = &appView{AppID: in.AppID, Instances: []instanceView{}}
			byID[in.AppID] = a
			apps = append(apps, a)
		}
		iv := instanceView{InstanceID: in.InstanceID, Host: in.Host, AppVersion: in.AppVersion, StartedAt: in.StartedAt,
			HeartbeatAt: in.HeartbeatAt, Status: "up", Sidecar: viewSidecar(in.Sidecar, in.SidecarError)}
		for i, a := range iv.Sidecar.Actors {
			if n, ok := in.ActiveActors[a.Type]; ok && a.Count == nil {
				iv.Sidecar.Actors[i].Count = &n
			}
		}
		switch {
		case now.Sub(in.HeartbeatAt) > staleAfter:
			iv.Status = "stale"
		case iv.Sidecar.Error != "":
			iv.Status = "sidecar_unreachable"
		default:
			a.Up++
			if iv.Sidecar.Placement != "" && !placement.Reachable {
				placement = reach{Reachable: iv.Sidecar.Placement == "placement: connected",
					Detail: in.AppID + "/" + in.InstanceID + ": " + iv.Sidecar.Placement}
			}
			if len(iv.Sidecar.Scheduler) > 0 {
				scheduler = reach{Reachable: true, Detail: in.AppID + "/" + in.InstanceID + " is connected to " + iv.Sidecar.Scheduler[0]}
			}
		}
		a.Instances = append(a.Instances, iv)
	}
	return c.JSON(fiber.Map{"now": now, "apps": apps,
		"control_plane": fiber.Map{"placement": placement, "scheduler": scheduler}})
}

type reminderView struct {
	postgres.PendingReminder
	LateSeconds float64 `json:"late_seconds"`
	// Scheduler is "held" when Dapr's scheduler holds the actor reminder
	// that fires it, "missing" when it does not, "unknown" when unchecked.
	Scheduler string `json:"scheduler"`
}

func (h *opsHandlers) reminders(c *fiber.Ctx) error {
	limit, err := opsLimit(c, 100)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	pending, now, err := h.Store.PendingReminders(ctx, limit)
	if err != nil {
		return err
	}
	out := make([]reminderView, len(pending))
	late := 0
	for i, p := range pending {
		out[i] = reminderView{PendingReminder: p, Scheduler: "unknown"}
		if d := now.Sub(p.DueAt); d > 0 {
			out[i].LateSeconds = d.Seconds()
			late++
		}
	}
	if h.Scheduler != nil {
		h.checkScheduler(ctx, out)
	}
	return c.JSON(fiber.Map{"now": now, "late": late, "reminders": out})
}

// checkScheduler asks the scheduler about the first schedulerChecks
// distinct actor reminders, a few at a time.
func (h *opsHandlers) checkScheduler(ctx context.Context, out []reminderView) {
	type key struct {
		id   uuid.UUID
		name string
	}
	results := map[key]string{}
	var keys []key
	for _, r := range out {
		k := key{r.TaskID, actors.ReminderName(r.Kind)}
		if _, ok := results[k]; !ok && len(keys) < schedulerChecks {
			results[k] = "unknown"
			keys = append(keys, k)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			held, err := h.Scheduler.Held(ctx, k.id, k.name)
			state := "missing"
			switch {
			case err != nil:
				state = "unknown"
			case held:
				state = "held"
			}
			mu.Lock()
			results[k] = state
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i := range out {
		out[i].Scheduler = results[key{out[i].TaskID, actors.ReminderName(out[i].Kind)}]
		if out[i].Scheduler == "" {
			out[i].Scheduler = "unknown"
		}
	}
}

type operationView struct {
	postgres.Operation
	// Stuck: pending or running without progress for stuckAfter.
	Stuck bool `json:"stuck"`
}

const stuckAfter = 5 * time.Minute

var operationStatuses = []string{"pending", "running", "completed", "failed"}

func (h *opsHandlers) operations(c *fiber.Ctx) error {
	limit, err := opsLimit(c, 100)
	if err != nil {
		return err
	}
	status := c.Query("status")
	if status != "" && !slices.Contains(operationStatuses, status) {
		return badParam("status", "must be one of pending, running, completed, failed")
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	ops, err := h.Operations.AllOperations(ctx, status, limit)
	if err != nil {
		return err
	}
	out := make([]operationView, len(ops))
	for i, op := range ops {
		out[i] = operationView{Operation: op,
			Stuck: (op.Status == "pending" || op.Status == "running") && time.Since(op.UpdatedAt) > stuckAfter}
	}
	return c.JSON(fiber.Map{"operations": out})
}

func (h *opsHandlers) control(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := uuid.Parse(c.Params("id"))
		if err != nil {
			return badParam("id", "must be an operation id (a UUID)")
		}
		ctx, cancel := h.ctx(c)
		defer cancel()
		op, err := h.Operations.Operation(ctx, id)
		if errors.Is(err, task.ErrNotFound) {
			return problem(fiber.StatusNotFound, "not-found", "Operation not found", "no operation with this id exists",
				task.FieldError{Field: "id", Message: "is not an operation"})
		}
		if err != nil {
			return err
		}
		reply, err := h.Control.ControlOperation(ctx, op.TaskID, actors.ControlRequest{OperationID: id, Action: action, By: userID(c)})
		if err != nil {
			return err
		}
		if err := reply.Err(); err != nil {
			if errors.Is(err, actors.ErrOperationState) {
				return problem(fiber.StatusConflict, "operation-state", "Operation not in that state", reply.Error.Message,
					task.FieldError{Field: "id", Message: reply.Error.Message})
			}
			return err
		}
		if op, err = h.Operations.Operation(ctx, id); err != nil {
			return err
		}
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"action": action, "operation": op})
	}
}

func (h *opsHandlers) outbox(c *fiber.Ctx) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	pending, oldest, err := h.Outbox.Stats(ctx)
	if err != nil {
		return err
	}
	dead, err := h.Store.PendingDeadLetters(ctx)
	if err != nil {
		return err
	}
	out := fiber.Map{"pending": pending, "oldest_age_seconds": oldest.Seconds(), "dead_letters_pending": dead}
	if h.Consumers == nil {
		out["consumers_error"] = "the API has no broker address (KAFKA_BROKERS) to read consumer lag from"
	} else if lags, err := h.Consumers.Lags(ctx); err != nil {
		out["consumers_error"] = "the broker did not answer: " + err.Error()
	} else {
		out["consumers"] = lags
	}
	return c.JSON(out)
}

func (h *opsHandlers) deadLetters(c *fiber.Ctx) error {
	limit, err := opsLimit(c, 100)
	if err != nil {
		return err
	}
	status := c.Query("status", "pending")
	if status != "pending" && status != "all" {
		return badParam("status", "must be pending or all")
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	list, err := h.Store.DeadLetters(ctx, status == "pending", limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"dead_letters": list})
}

func deadLetterID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("id", "must be a dead letter id (a positive integer)")
	}
	return id, nil
}

func deadLetterNotFound() error {
	return problem(fiber.StatusNotFound, "not-found", "Dead letter not found", "no dead letter with this id exists",
		task.FieldError{Field: "id", Message: "is not a dead letter"})
}

func (h *opsHandlers) deadLetter(c *fiber.Ctx) error {
	id, err := deadLetterID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	dl, err := h.Store.DeadLetter(ctx, id)
	if errors.Is(err, task.ErrNotFound) {
		return deadLetterNotFound()
	}
	if err != nil {
		return err
	}
	return c.JSON(dl)
}

func (h *opsHandlers) replay(c *fiber.Ctx) error {
	id, err := deadLetterID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	dl, err := h.Store.ReplayDeadLetter(ctx, id, userID(c))
	switch {
	case errors.Is(err, task.ErrNotFound):
		return deadLetterNotFound()
	case errors.Is(err, postgres.ErrAlreadyReplayed):
		return problem(fiber.StatusConflict, "already-replayed", "Already replayed", "this dead letter was replayed before",
			task.FieldError{Field: "id", Message: "was already replayed"})
	case errors.Is(err, postgres.ErrNotReplayable):
		return problem(fiber.StatusUnprocessableEntity, "not-replayable", "Not replayable",
			"the dead letter's message is not a task event, so there is nothing to put back on the topic",
			task.FieldError{Field: "id", Message: "holds no task event"})
	case err != nil:
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(dl)
}

// opsLimit reads ?limit= (1..500).
func opsLimit(c *fiber.Ctx, def int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 500 {
		return 0, badParam("limit", "must be an integer between 1 and 500")
	}
	return n, nil
}
