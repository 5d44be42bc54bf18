package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// TaskWriter sends writes to the task's actor.
type TaskWriter interface {
	Create(ctx context.Context, id uuid.UUID, req actors.CreateRequest) (*actors.Reply, error)
	Update(ctx context.Context, id uuid.UUID, req actors.UpdateRequest) (*actors.Reply, error)
	Complete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error)
	Uncomplete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error)
	Delete(ctx context.Context, id uuid.UUID, req actors.Request) (*actors.Reply, error)
	StartSeriesOperation(ctx context.Context, series uuid.UUID, req actors.OperationRequest) (*actors.Reply, error)
	Snooze(ctx context.Context, id uuid.UUID, req actors.SnoozeRequest) (*actors.Reply, error)
}

// TaskReader reads tasks straight from PostgreSQL. A write's response is
// sent after its commit, so a read that follows it sees it.
type TaskReader interface {
	GetForUser(ctx context.Context, userID string, id uuid.UUID) (task.Task, error)
	List(ctx context.Context, userID string, q postgres.ListQuery) (postgres.Page, error)
	LookupIdempotency(ctx context.Context, userID string, idem task.IdempotencyKey) (*task.Task, bool, error)
	Instances(ctx context.Context, series uuid.UUID, from time.Time, limit int) ([]task.Instance, error)
	AlarmsForUser(ctx context.Context, userID string, taskID uuid.UUID) ([]task.Alarm, error)
	Counts(ctx context.Context, userID string, now, dayStart, dayEnd time.Time) (postgres.Counts, error)
}

// OperationReader reads operations and their progress.
type OperationReader interface {
	Get(ctx context.Context, userID string, id uuid.UUID) (postgres.Operation, error)
}

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

type listResponse struct {
	Items      []task.Task `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

type taskHandlers struct {
	writer      TaskWriter
	reader      TaskReader
	ops         OperationReader
	limits      task.Limits
	callTimeout time.Duration
	now         func() time.Time
}

func (h *taskHandlers) ctx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), h.callTimeout)
}

func (h *taskHandlers) create(c *fiber.Ctx) error {
	user := userID(c)
	draft, firePast, canonical, err := decodeDraft(c, h.limits, h.now())
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()

	var idem *task.IdempotencyKey
	if key := c.Get("Idempotency-Key"); key != "" {
		if len(key) > MaxIdempotencyKeyLen || !printableASCII(key) {
			return badParam("Idempotency-Key", "must be 1 to 255 printable ASCII characters")
		}
		sum := sha256.Sum256(canonical)
		idem = &task.IdempotencyKey{Key: key, RequestHash: sum[:]}
		replay, found, err := h.reader.LookupIdempotency(ctx, user, *idem)
		if err != nil {
			return err
		}
		if found {
			return replayed(c, replay)
		}
	}
	id := uuid.Must(uuid.NewV7())
	reply, err := h.writer.Create(ctx, id, actors.CreateRequest{
		Request:           actors.Request{UserID: user, CorrelationID: correlationID(c)},
		Draft:             draft,
		Idempotency:       idem,
		FirePastReminders: firePast,
	})
	if err != nil {
		return err
	}
	if err := reply.Err(); err != nil {
		return err
	}
	if reply.Replayed {
		return replayed(c, reply.Task)
	}
	c.Location("/api/v1/tasks/" + reply.Task.ID.String())
	return sendTask(c, fiber.StatusCreated, reply.Task)
}

func replayed(c *fiber.Ctx, t *task.Task) error {
	c.Set("Idempotent-Replayed", "true")
	c.Location("/api/v1/tasks/" + t.ID.String())
	return sendTask(c, fiber.StatusCreated, t)
}

func (h *taskHandlers) get(c *fiber.Ctx) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	t, err := h.reader.GetForUser(ctx, userID(c), id)
	if err != nil {
		return err
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && inm == etag(t.Version) {
		c.Set(fiber.HeaderETag, etag(t.Version))
		return c.SendStatus(fiber.StatusNotModified)
	}
	return sendTask(c, fiber.StatusOK, &t)
}

func (h *taskHandlers) list(c *fiber.Ctx) error {
	q, err := parseListQuery(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	page, err := h.reader.List(ctx, userID(c), q)
	if err != nil {
		return err
	}
	resp := listResponse{Items: page.Items}
	if page.Next != nil {
		s := page.Next.Encode()
		resp.NextCursor = &s
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusOK).JSON(resp)
}

func (h *taskHandlers) update(c *fiber.Ctx) error {
	req, id, err := commandRequest(c)
	if err != nil {
		return err
	}
	series, err := seriesScope(c)
	if err != nil {
		return err
	}
	patch, firePast, err := decodePatch(c, h.limits)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	if series {
		return h.startOperation(c, ctx, id, actors.OperationRequest{Request: req, Kind: actors.OpSeriesUpdate, Patch: patch})
	}
	reply, err := h.writer.Update(ctx, id, actors.UpdateRequest{Request: req, Patch: patch, FirePastReminders: firePast})
	return answer(c, reply, err, fiber.StatusOK)
}

// reminders lists a task's reminders and its overdue notice, with status.
func (h *taskHandlers) reminders(c *fiber.Ctx) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	if _, err := h.reader.GetForUser(ctx, userID(c), id); err != nil {
		return err
	}
	alarms, err := h.reader.AlarmsForUser(ctx, userID(c), id)
	if err != nil {
		return err
	}
	if alarms == nil {
		alarms = []task.Alarm{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"items": alarms})
}

// snooze re-arms one reminder for a while or until a time.
func (h *taskHandlers) snooze(c *fiber.Ctx) error {
	req, id, err := commandRequest(c)
	if err != nil {
		return err
	}
	rid, err := uuid.Parse(c.Params("reminder_id"))
	if err != nil {
		return badParam("reminder_id", "must be a reminder id (a UUID)")
	}
	forDur, until, err := decodeSnooze(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	reply, err := h.writer.Snooze(ctx, id, actors.SnoozeRequest{Request: req, ReminderID: rid, For: forDur, Until: until})
	if err != nil {
		return err
	}
	if err := reply.Err(); err != nil {
		return err
	}
	return c.JSON(reply.Alarm)
}

func (h *taskHandlers) delete(c *fiber.Ctx) error {
	req, id, err := commandRequest(c)
	if err != nil {
		return err
	}
	series, err := seriesScope(c)
	if err != nil {
		return err
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	if series {
		return h.startOperation(c, ctx, id, actors.OperationRequest{Request: req, Kind: actors.OpSeriesDelete})
	}
	reply, err := h.writer.Delete(ctx, id, req)
	return answer(c, reply, err, fiber.StatusNoContent)
}

// seriesScope reads ?scope=task|series (task by default).
func seriesScope(c *fiber.Ctx) (bool, error) {
	switch s := c.Query("scope"); s {
	case "", "task":
		return false, nil
	case "series":
		return true, nil
	default:
		return false, badParam("scope", fmt.Sprintf("must be task or series (got %q)", s))
	}
}

// startOperation starts a series-wide change and answers 202 with the
// operation to poll.
func (h *taskHandlers) startOperation(c *fiber.Ctx, ctx context.Context, id uuid.UUID, req actors.OperationRequest) error {
	reply, err := h.writer.StartSeriesOperation(ctx, id, req)
	if err != nil {
		return err
	}
	if err := reply.Err(); err != nil {
		return err
	}
	op, err := h.ops.Get(ctx, req.UserID, *reply.OperationID)
	if err != nil {
		return err
	}
	c.Location("/api/v1/operations/" + op.ID.String())
	return c.Status(fiber.StatusAccepted).JSON(op)
}

func (h *taskHandlers) operation(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return badParam("id", "must be an operation id (a UUID)")
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	op, err := h.ops.Get(ctx, userID(c), id)
	if errors.Is(err, task.ErrNotFound) {
		return problem(fiber.StatusNotFound, "not-found", "Operation not found", "no operation with this id exists for you")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(op)
}

// Occurrence preview limits.
const (
	DefaultOccurrences = 20
	MaxOccurrences     = 1000
)

type occurrence struct {
	OccurrenceDate time.Time  `json:"occurrence_date"`
	TaskID         *uuid.UUID `json:"task_id"`
}

// occurrences lists a series' occurrences from its first one (or ?from=),
// with the instance of each that exists. A from_completion series has no
// occurrences ahead of time: it lists its instances.
func (h *taskHandlers) occurrences(c *fiber.Ctx) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var v task.Validator
	limit := DefaultOccurrences
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxOccurrences {
			v.Add("limit", "must be an integer between 1 and %d", MaxOccurrences)
		}
		limit = n
	}
	var from *time.Time
	if s := c.Query("from"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			v.Add("from", `must be an RFC 3339 time with an offset, like "2026-12-01T00:00:00Z"`)
		}
		from = &t
	}
	for name := range c.Queries() {
		if name != "limit" && name != "from" {
			v.Add(name, "is not a parameter of this list (known: limit, from)")
		}
	}
	if err := v.Err(); err != nil {
		ve := err.(*task.ValidationError)
		p := badParam(ve.Fields[0].Field, ve.Fields[0].Message)
		p.Errors = ve.Fields
		return p
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	series, err := h.reader.GetForUser(ctx, userID(c), id)
	if err != nil {
		return err
	}
	if !series.IsSeries() {
		return task.ErrNotSeries
	}
	rule, err := series.Rule(h.limits)
	if err != nil {
		return err
	}
	start := time.Time{}
	if from != nil {
		start = *from
	} else if first, ok := rule.First(); ok {
		start = first
	}
	existing, err := h.reader.Instances(ctx, series.ID, start, MaxOccurrences)
	if err != nil {
		return err
	}
	items := make([]occurrence, 0, limit)
	if series.Mode() == recurrence.FromCompletion {
		for _, in := range existing[:min(limit, len(existing))] {
			items = append(items, occurrence{OccurrenceDate: in.Occurrence, TaskID: &in.ID})
		}
	} else {
		byTime := make(map[int64]uuid.UUID, len(existing))
		for _, in := range existing {
			byTime[in.Occurrence.UnixMicro()] = in.ID
		}
		for _, occ := range rule.Occurrences(start, limit) {
			it := occurrence{OccurrenceDate: occ}
			if id, ok := byTime[occ.UnixMicro()]; ok {
				it.TaskID = &id
			}
			items = append(items, it)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"items": items})
}

func (h *taskHandlers) command(call func(context.Context, uuid.UUID, actors.Request) (*actors.Reply, error), status int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req, id, err := commandRequest(c)
		if err != nil {
			return err
		}
		ctx, cancel := h.ctx(c)
		defer cancel()
		reply, err := call(ctx, id, req)
		return answer(c, reply, err, status)
	}
}

func answer(c *fiber.Ctx, reply *actors.Reply, err error, status int) error {
	if err != nil {
		return err
	}
	if err := reply.Err(); err != nil {
		return err
	}
	if status == fiber.StatusNoContent {
		return c.SendStatus(status)
	}
	return sendTask(c, status, reply.Task)
}

func commandRequest(c *fiber.Ctx) (actors.Request, uuid.UUID, error) {
	id, err := taskID(c)
	if err != nil {
		return actors.Request{}, uuid.Nil, err
	}
	req := actors.Request{UserID: userID(c), CorrelationID: correlationID(c)}
	if im := c.Get(fiber.HeaderIfMatch); im != "" && im != "*" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if err != nil || v < 1 {
			return actors.Request{}, uuid.Nil, badParam("If-Match", `must be an ETag from this API, like "3"`)
		}
		req.IfMatch = v
	}
	return req, id, nil
}

func taskID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, badParam("id", "must be a task id (a UUID)")
	}
	return id, nil
}

func sendTask(c *fiber.Ctx, status int, t *task.Task) error {
	c.Set(fiber.HeaderETag, etag(t.Version))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(t)
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}
