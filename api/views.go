package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// zone reads the client's time zone: the timezone query parameter, else
// the Time-Zone header, else UTC. field names what was wrong.
func zone(c *fiber.Ctx) (*time.Location, error) {
	name, field := c.Query("timezone"), "timezone"
	if name == "" {
		name, field = strings.TrimSpace(c.Get("Time-Zone")), "Time-Zone"
	}
	if name == "" {
		return time.UTC, nil
	}
	loc, err := recurrence.LoadLocation(name)
	if err != nil {
		return nil, badParam(field, err.Error())
	}
	return loc, nil
}

// counts answers GET /api/v1/tasks/counts: how many tasks each view of the
// web app holds, "today" being the client's day.
func (h *taskHandlers) counts(c *fiber.Ctx) error {
	for name := range c.Queries() {
		if name != "timezone" {
			return badParam(name, "is not a parameter of this resource (known: timezone)")
		}
	}
	loc, err := zone(c)
	if err != nil {
		return err
	}
	now := h.now()
	local := now.In(loc)
	dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	dayEnd := dayStart.AddDate(0, 0, 1)
	ctx, cancel := h.ctx(c)
	defer cancel()
	counts, err := h.reader.Counts(ctx, userID(c), now, dayStart, dayEnd)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"timezone": loc.String(), "day_start": dayStart.UTC(), "day_end": dayEnd.UTC(), "counts": counts})
}

// previewOccurrences is how many occurrences a preview lists by default.
const previewOccurrences = 5

// preview answers POST /api/v1/tasks/preview: the task a create with this
// body would make, its reminders and a series' next occurrences, without
// creating anything. A body the create would refuse gets the same 422,
// field by field; so does a reminder whose time has passed.
func (h *taskHandlers) preview(c *fiber.Ctx) error {
	limit := previewOccurrences
	for name := range c.Queries() {
		if name != "occurrences" {
			return badParam(name, "is not a parameter of this resource (known: occurrences)")
		}
	}
	if s := c.Query("occurrences"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxOccurrences {
			return badParam("occurrences", "must be an integer between 0 and "+strconv.Itoa(MaxOccurrences))
		}
		limit = n
	}
	now := h.now()
	draft, firePast, _, err := decodeDraft(c, h.limits, now)
	if err != nil {
		return err
	}
	// The id is a placeholder (reminder ids derive from it): nothing is kept.
	t, err := h.limits.New(uuid.Must(uuid.NewV7()), userID(c), draft, now)
	if err != nil {
		return err
	}
	past := task.PastRefuse
	if firePast {
		past = task.PastFire
	}
	plan, err := task.PlanAlarms(t, nil, now, past)
	if err != nil {
		return err
	}
	t.ReminderStatus = task.ReminderStatus(plan.Rows)
	occurrences := []time.Time{}
	if t.IsSeries() && limit > 0 {
		rule, err := t.Rule(h.limits)
		if err != nil {
			return err
		}
		if t.Mode() != recurrence.FromCompletion {
			if first, ok := rule.First(); ok {
				occurrences = rule.Occurrences(first, limit)
			}
		}
	}
	alarms := plan.Rows
	if alarms == nil {
		alarms = []task.Alarm{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"task": t, "occurrences": occurrences, "reminders": alarms})
}

// WebConfig is what the web app needs to know about where it runs.
type WebConfig struct {
	// NotificationsURL and AuditURL are where the notifier's and the
	// auditor's routes are served from: "" when the same origin serves
	// them (an Ingress routing /api/v1/notifications and /api/v1/audit),
	// an origin such as http://localhost:8081 in a local run.
	NotificationsURL string `json:"notifications_url"`
	AuditURL         string `json:"audit_url"`
	// DevSignIn says whether POST /api/v1/dev/token mints tokens.
	DevSignIn bool `json:"dev_sign_in"`
}

func webConfig(cfg WebConfig) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(cfg)
	}
}
