package api

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

// ProblemBase prefixes every problem type URI. The URIs are stable
// identifiers clients may switch on; they are documented in the OpenAPI
// document.
const ProblemBase = "https://taskflow.dev/problems/"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type          string            `json:"type"`
	Title         string            `json:"title"`
	Status        int               `json:"status"`
	Detail        string            `json:"detail,omitempty"`
	Instance      string            `json:"instance,omitempty"`
	Errors        []task.FieldError `json:"errors,omitempty"`
	CorrelationID string            `json:"correlation_id,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func problem(status int, slug, title, detail string, fields ...task.FieldError) *Problem {
	return &Problem{Type: ProblemBase + slug, Title: title, Status: status, Detail: detail, Errors: fields}
}

// badParam is a 400 naming a query parameter, path parameter or header.
func badParam(field, message string) *Problem {
	return problem(fiber.StatusBadRequest, "invalid-parameter", "Invalid request parameter",
		field+": "+message, task.FieldError{Field: field, Message: message})
}

// toProblem maps every error a handler may return to the problem the client
// sees. Internal error text never reaches the client.
func toProblem(err error) *Problem {
	var p *Problem
	var ve *task.ValidationError
	var fe *fiber.Error
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ve):
		return problem(fiber.StatusUnprocessableEntity, "validation", "Invalid task",
			"one or more fields are invalid; see errors", ve.Fields...)
	case errors.Is(err, auth.ErrInvalidToken):
		return problem(fiber.StatusUnauthorized, "unauthorized", "Unauthorized", err.Error())
	case errors.Is(err, webhook.ErrNotFound):
		return problem(fiber.StatusNotFound, "not-found", "Webhook not found", "no webhook with this id exists for you",
			task.FieldError{Field: "id", Message: "is not one of your webhooks"})
	case errors.Is(err, webhook.ErrTooMany):
		return problem(fiber.StatusConflict, "webhook-limit", "Too many webhooks",
			fmt.Sprintf("you have %d webhooks, the most one user may have; delete one first", webhook.MaxPerUser))
	case errors.Is(err, task.ErrNotFound):
		return problem(fiber.StatusNotFound, "not-found", "Task not found", "no task with this id exists for you")
	case errors.Is(err, task.ErrVersionMismatch):
		return problem(fiber.StatusPreconditionFailed, "precondition-failed", "Version mismatch",
			"the task changed since the version in If-Match; fetch it again",
			task.FieldError{Field: "If-Match", Message: "does not match the current version"})
	case errors.Is(err, task.ErrIdempotencyMismatch):
		return problem(fiber.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency-Key reused",
			"this Idempotency-Key was already used with a different request body",
			task.FieldError{Field: "Idempotency-Key", Message: "was used with a different request"})
	case errors.Is(err, task.ErrConflict):
		return problem(fiber.StatusConflict, "conflict", "Conflict", "the task was changed concurrently; retry")
	case errors.Is(err, task.ErrReminderNotFound):
		return problem(fiber.StatusNotFound, "not-found", "Reminder not found", "the task has no such active reminder",
			task.FieldError{Field: "reminder_id", Message: "is not an active reminder of this task"})
	case errors.Is(err, task.ErrNotSeries):
		return problem(fiber.StatusUnprocessableEntity, "not-a-series", "Not a recurring series",
			"this task has no recurrence_pattern; scope=series and occurrences apply to recurring series only",
			task.FieldError{Field: "id", Message: "is not a recurring series"})
	case errors.Is(err, postgres.ErrBadCursor):
		return badParam("cursor", "is not a cursor from this list")
	case errors.Is(err, actors.ErrUnavailable), postgres.IsUnavailable(err):
		return problem(fiber.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"the task service is temporarily unavailable; retry shortly")
	case errors.As(err, &fe):
		return fiberProblem(fe)
	default:
		return problem(fiber.StatusInternalServerError, "internal", "Internal server error",
			"the request failed on our side; quote the correlation_id when reporting it")
	}
}

func fiberProblem(fe *fiber.Error) *Problem {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return problem(fe.Code, "payload-too-large", "Request body too large", "the request body exceeds the limit")
	case fiber.StatusNotFound:
		return problem(fe.Code, "no-route", "Not found", "no such resource")
	case fiber.StatusMethodNotAllowed:
		return problem(fe.Code, "method-not-allowed", "Method not allowed", "this resource does not support the method")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return problem(fe.Code, "headers-too-large", "Request headers too large", "the request headers exceed the limit")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return problem(fe.Code, "bad-request", "Bad request", fe.Message)
	}
	return problem(fiber.StatusInternalServerError, "internal", "Internal server error", "the request failed on our side")
}
