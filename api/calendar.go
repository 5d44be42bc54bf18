package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// CalendarFeeds keeps each user's iCalendar feed secret.
type CalendarFeeds interface {
	Rotate(ctx context.Context, userID, token string) (time.Time, error)
	Revoke(ctx context.Context, userID string) error
	Owner(ctx context.Context, token string) (string, error)
}

// maxFeedTasks bounds one feed: a calendar client polls it.
const maxFeedTasks = 2000

type calendarHandlers struct {
	feeds       CalendarFeeds
	reader      TaskReader
	callTimeout time.Duration
	now         func() time.Time
}

// feedRoute is the public, unauthenticated feed: the secret in the path
// is the credential (calendar clients cannot send a bearer token).
const feedRoute = "/api/v1/calendar/:file"

// rotate makes (or replaces) the user's feed URL; the old one stops working.
func (h *calendarHandlers) rotate(c *fiber.Ctx) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	ctx, cancel := context.WithTimeout(c.UserContext(), h.callTimeout)
	defer cancel()
	at, err := h.feeds.Rotate(ctx, userID(c), token)
	if err != nil {
		return err
	}
	path := "/api/v1/calendar/" + token + ".ics"
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"url": c.BaseURL() + path, "path": path, "created_at": at})
}

func (h *calendarHandlers) revoke(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), h.callTimeout)
	defer cancel()
	if err := h.feeds.Revoke(ctx, userID(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// feed serves the user's tasks as RFC 5545 VTODOs.
func (h *calendarHandlers) feed(c *fiber.Ctx) error {
	token, ok := strings.CutSuffix(c.Params("file"), ".ics")
	if !ok || len(token) != 43 {
		return problem(fiber.StatusNotFound, "not-found", "Not found", "no calendar feed at this address")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), h.callTimeout)
	defer cancel()
	user, err := h.feeds.Owner(ctx, token)
	if errors.Is(err, task.ErrNotFound) {
		return problem(fiber.StatusNotFound, "not-found", "Not found", "no calendar feed at this address")
	}
	if err != nil {
		return err
	}
	var tasks []task.Task
	q := postgres.ListQuery{Status: postgres.StatusAll, Sort: postgres.SortCreatedAt, Limit: MaxListLimit}
	for len(tasks) < maxFeedTasks {
		page, err := h.reader.List(ctx, user, q)
		if err != nil {
			return err
		}
		tasks = append(tasks, page.Items...)
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set("Referrer-Policy", "no-referrer")
	return c.SendString(renderICS(tasks, h.now()))
}

// renderICS writes tasks as a VCALENDAR of VTODOs: a series carries its
// RRULE (its instances are left out, the series stands for them), each
// reminder a VALARM.
func renderICS(tasks []task.Task, now time.Time) string {
	var b strings.Builder
	line := func(s string) { b.WriteString(foldLine(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//TaskFlow//Tasks//EN")
	line("CALSCALE:GREGORIAN")
	line("X-WR-CALNAME:TaskFlow")
	stamp := icsTime(now)
	for _, t := range tasks {
		if t.ParentRecurringTaskID != nil {
			continue
		}
		line("BEGIN:VTODO")
		line("UID:" + t.ID.String() + "@taskflow")
		line("DTSTAMP:" + stamp)
		line("CREATED:" + icsTime(t.CreatedAt))
		line("LAST-MODIFIED:" + icsTime(t.UpdatedAt))
		line("SUMMARY:" + icsText(t.Title))
		if t.Description != "" {
			line("DESCRIPTION:" + icsText(t.Description))
		}
		if t.DueDate != nil {
			if t.RecurrencePattern != nil {
				line("DTSTART:" + icsTime(*t.DueDate))
			}
			line("DUE:" + icsTime(*t.DueDate))
		}
		if t.RecurrencePattern != nil && t.DueDate != nil {
			if rule := rruleOf(*t.RecurrencePattern); rule != "" {
				line("RRULE:" + rule)
			}
		}
		switch t.Priority {
		case task.PriorityHigh:
			line("PRIORITY:1")
		case task.PriorityMedium:
			line("PRIORITY:5")
		case task.PriorityLow:
			line("PRIORITY:9")
		}
		if len(t.Tags) > 0 {
			parts := make([]string, len(t.Tags))
			for i, tag := range t.Tags {
				parts[i] = icsText(tag)
			}
			line("CATEGORIES:" + strings.Join(parts, ","))
		}
		if t.Completed {
			line("STATUS:COMPLETED")
			line("PERCENT-COMPLETE:100")
			if t.CompletedAt != nil {
				line("COMPLETED:" + icsTime(*t.CompletedAt))
			}
		} else {
			line("STATUS:NEEDS-ACTION")
		}
		for _, r := range t.Reminders {
			var trigger string
			switch {
			case r.At != nil:
				trigger = "TRIGGER;VALUE=DATE-TIME:" + icsTime(*r.At)
			case r.Offset != nil && t.DueDate != nil:
				d, err := task.ParseOffset(*r.Offset)
				if err != nil {
					continue
				}
				trigger = "TRIGGER;RELATED=END:-" + icsDuration(d)
			default:
				continue
			}
			line("BEGIN:VALARM")
			line("ACTION:DISPLAY")
			line("DESCRIPTION:" + icsText(t.Title))
			line(trigger)
			line("END:VALARM")
		}
		line("END:VTODO")
	}
	line("END:VCALENDAR")
	return b.String()
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsDuration writes d (positive) as an RFC 5545 duration.
func icsDuration(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	s := "P"
	if days > 0 {
		s += fmt.Sprintf("%dD", days)
	}
	if d > 0 || days == 0 {
		s += fmt.Sprintf("T%dH%dM%dS", d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second)
	}
	return s
}

// rruleOf keeps the RRULE of a stored pattern (which may carry an
// "RRULE:" prefix or a DTSTART line of its own).
func rruleOf(pattern string) string {
	for _, l := range strings.Split(strings.ReplaceAll(pattern, "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		if len(l) > 6 && strings.EqualFold(l[:6], "RRULE:") {
			return l[6:]
		}
		if len(l) > 5 && strings.EqualFold(l[:5], "FREQ=") {
			return l
		}
	}
	return ""
}

// icsText escapes a TEXT value (RFC 5545 3.3.11).
func icsText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// foldLine ends a content line with CRLF, folding it at 75 octets without
// splitting a UTF-8 character (RFC 5545 3.1).
func foldLine(s string) string {
	var b strings.Builder
	width := 0
	for _, r := range s {
		n := len(string(r))
		if width+n > 75 {
			b.WriteString("\r\n ")
			width = 1
		}
		b.WriteRune(r)
		width += n
	}
	b.WriteString("\r\n")
	return b.String()
}
