// Package mcptools lets AI agents use TaskFlow through the Model Context
// Protocol (github.com/modelcontextprotocol/go-sdk): tools to list, search,
// create (also from a sentence), update, complete and delete tasks, snooze
// a reminder, list a series' occurrences and read a task's history, and
// the resources taskflow://tasks/today and taskflow://tasks/overdue.
//
// The tools call TaskFlow's REST API (and the auditor's history query) with
// the caller's own bearer token, so an agent is exactly as limited as the
// user it acts for: it sees only that user's tasks, and every write goes
// through the same validation, idempotency, rate limits and task actors.
//
// Two transports serve the same Server: `taskflow mcp` runs it over stdio
// with a token from the environment, and the api app serves it over
// Streamable HTTP at /api/v1/mcp, where each request's Authorization and
// Time-Zone headers are the credentials (see Handler).
package mcptools

import (
	"context"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Version is the server's version reported to clients.
const Version = "1.0.0"

// instructions tell the agent how the tools fit together.
const instructions = `TaskFlow is the user's task manager. Use list_tasks (views today, overdue, upcoming, open, completed, all) or search_tasks to find tasks and their ids before changing them.
create_task takes either "text" (a sentence such as "Pay rent on the 1st of every month at 9am, remind me a day before #home !high", parsed by TaskFlow) or explicit fields.
Times are RFC 3339 with an offset. Reminder offsets are durations before the due date such as "15 minutes", "1 hour", "1 day".
Recurrence patterns are RFC 5545 RRULEs such as FREQ=WEEKLY;BYDAY=MO,WE or shorthands such as daily, weekly, monthly.`

// CredentialsFunc says whom a call acts for. For stdio it returns the
// configured token; over HTTP it reads the request's headers.
type CredentialsFunc func(ctx context.Context, extra *mcp.RequestExtra) (Credentials, error)

// FixedCredentials acts for one user: the stdio transport's.
func FixedCredentials(c Credentials) CredentialsFunc {
	return func(context.Context, *mcp.RequestExtra) (Credentials, error) { return c, nil }
}

// HeaderCredentials takes the Authorization and Time-Zone headers of the
// HTTP request that carried the call.
func HeaderCredentials(_ context.Context, extra *mcp.RequestExtra) (Credentials, error) {
	if extra == nil || extra.Header == nil {
		return Credentials{}, errNoCredentials
	}
	c := Credentials{Authorization: extra.Header.Get("Authorization"), TimeZone: extra.Header.Get("Time-Zone")}
	if c.Authorization == "" {
		return Credentials{}, errNoCredentials
	}
	return c, nil
}

// NewServer builds the MCP server whose tools reach TaskFlow through b as
// the user cred names.
func NewServer(b *Backend, cred CredentialsFunc) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "taskflow", Title: "TaskFlow", Version: Version},
		&mcp.ServerOptions{Instructions: instructions})
	t := &tools{b: b, cred: cred}
	t.register(s)
	return s
}

// Handler serves s over Streamable HTTP, statelessly (no session to keep
// between requests, so any api replica answers any call) with JSON answers.
// The caller authenticates the request before it reaches the handler.
func Handler(s *mcp.Server) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, MaxRequestBodyBytes: 1 << 20,
			// The api authenticates every request with a bearer token, which a
			// rebinding page cannot present; behind an ingress the Host is
			// the public name while the peer is a loopback proxy.
			DisableLocalhostProtection: true})
}
