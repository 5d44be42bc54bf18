// Package api is TaskFlow's public REST API (Fiber). Writes go to the
// task's actor through the Dapr sidecar; reads come from PostgreSQL.
// Every error leaves as an RFC 9457 problem document.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

//go:embed openapi.json
var openAPI []byte

// Verifier checks bearer tokens.
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Claims, error)
}

// Config tunes the API.
type Config struct {
	BodyLimit   int           // bytes; larger bodies get 413. Default 64 KiB.
	CallTimeout time.Duration // per request to actors and PostgreSQL. Default 15s.
	Limits      task.Limits   // domain limits; default task.DefaultLimits()
	// WriteLimit bounds each user's writes; the zero value means
	// DefaultWriteLimit, a negative Rate none.
	WriteLimit WriteLimit
	// Web is what GET /api/v1/config tells the web app (DevSignIn is set
	// from Deps.DevTokenSecret).
	Web WebConfig
	// WebhookAllowPrivate accepts webhook URLs whose host is a loopback,
	// private or link-local address (WEBHOOK_ALLOW_PRIVATE): local runs
	// and tests only. The auditor checks every address it dials too.
	WebhookAllowPrivate bool
}

// Deps are the API's collaborators.
type Deps struct {
	Writer     TaskWriter
	Reader     TaskReader
	Operations OperationReader
	Verifier   Verifier
	// Extra are plain net/http routes mounted as is (health, metrics).
	Extra    map[string]http.Handler
	Registry prometheus.Registerer
	Now      func() time.Time
	// Calendars, when set, serves per-user iCalendar feeds.
	Calendars CalendarFeeds
	// Webhooks, when set, serves each user's outgoing webhooks under
	// /api/v1/webhooks.
	Webhooks WebhookStore
	// Ops, when set, serves the ops view under /api/v1/ops to tokens with
	// its admin role.
	Ops *OpsDeps
	// MCP, when set, serves the Model Context Protocol (Streamable HTTP)
	// at /api/v1/mcp to authenticated callers (package mcptools).
	MCP http.Handler
	// DevTokenSecret, when set, enables POST /api/v1/dev/token, which mints
	// tokens for any user: only ever with the public development secret.
	DevTokenSecret []byte
}

// New builds the Fiber app. It is safe for concurrent use once built.
func New(cfg Config, deps Deps, logger *slog.Logger) (*fiber.App, error) {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 64 << 10
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 15 * time.Second
	}
	if cfg.Limits == (task.Limits{}) {
		cfg.Limits = task.DefaultLimits()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.WriteLimit == (WriteLimit{}) {
		cfg.WriteLimit = DefaultWriteLimit
	}
	logger = logger.With("component", "api")
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "taskflow_http_request_duration_seconds",
		Help:    "API request latency by method, route and status.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
	}, []string{"method", "route", "status"})
	if err := deps.Registry.Register(duration); err != nil {
		return nil, err
	}

	app := fiber.New(fiber.Config{
		AppName: "taskflow-api",
		// fasthttp answers a body over its limit, or headers over its read
		// buffer, and closes the connection without reading the rest: a
		// client still writing gets a reset instead of the answer (CI saw
		// it for a 200 KB body). So fasthttp's limits are caps well above
		// ours, and a body over BodyLimit gets its 413 from tooLarge below,
		// read to the end, on a connection that stays open.
		BodyLimit:             max(cfg.BodyLimit, hardBodyLimit),
		ReadBufferSize:        16 << 10,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(logger),
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		logger.ErrorContext(c.UserContext(), "panic in handler", "panic", e, "path", c.Path())
	}}))
	app.Use(correlation)
	app.Use(saneQuery)
	app.Use(traced(tracing.Tracer()))
	app.Use(func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status = toProblem(err).Status
		}
		duration.WithLabelValues(methodLabel(c.Method()), c.Route().Path, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		return err
	})
	app.Use(tooLarge(cfg.BodyLimit))

	for path, h := range deps.Extra {
		app.Get(path, adaptor.HTTPHandler(h))
	}
	page, err := buildWeb(cfg.Web)
	if err != nil {
		return nil, err
	}
	page.routes(app)
	if deps.DevTokenSecret != nil {
		app.Post("/api/v1/dev/token", devToken(deps.DevTokenSecret))
	}
	app.Get("/api/v1/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(openAPI)
	})
	web := cfg.Web
	web.DevSignIn = deps.DevTokenSecret != nil
	app.Get("/api/v1/config", webConfig(web))

	h := &taskHandlers{writer: deps.Writer, reader: deps.Reader, ops: deps.Operations, limits: cfg.Limits,
		callTimeout: cfg.CallTimeout, now: deps.Now}
	var cal *calendarHandlers
	if deps.Calendars != nil {
		// The feed's secret is its credential: served before authentication.
		cal = &calendarHandlers{feeds: deps.Calendars, reader: deps.Reader, callTimeout: cfg.CallTimeout, now: deps.Now}
		app.Get(feedRoute, cal.feed)
	}
	if deps.MCP != nil {
		// Stateless Streamable HTTP: POST only (no session to GET or
		// DELETE). Mounted before the group: not write-limited itself (a
		// list is a POST too), the tools' calls to the API are.
		app.Post("/api/v1/mcp", authenticate(deps.Verifier), adaptor.HTTPHandler(deps.MCP))
	}
	v1 := app.Group("/api/v1", authenticate(deps.Verifier), limitWrites(cfg.WriteLimit))
	if cal != nil {
		v1.Post("/calendar/feed", cal.rotate)
		v1.Delete("/calendar/feed", cal.revoke)
	}
	if deps.Webhooks != nil {
		wh := &webhookHandlers{store: deps.Webhooks, allowPrivate: cfg.WebhookAllowPrivate, callTimeout: cfg.CallTimeout}
		wh.routes(v1)
	}
	v1.Post("/tasks", h.create)
	v1.Get("/tasks", h.list)
	v1.Get("/tasks/counts", h.counts)
	v1.Post("/tasks/preview", h.preview)
	v1.Post("/tasks/parse", h.parse)
	v1.Get("/tasks/:id", h.get)
	v1.Patch("/tasks/:id", h.update)
	v1.Delete("/tasks/:id", h.delete)
	v1.Get("/tasks/:id/occurrences", h.occurrences)
	v1.Get("/tasks/:id/reminders", h.reminders)
	v1.Post("/tasks/:id/reminders/:reminder_id/snooze", h.snooze)
	v1.Get("/operations/:id", h.operation)
	v1.Post("/tasks/:id/complete", h.command(deps.Writer.Complete, fiber.StatusOK))
	v1.Post("/tasks/:id/uncomplete", h.command(deps.Writer.Uncomplete, fiber.StatusOK))
	if deps.Ops != nil {
		ops := &opsHandlers{OpsDeps: *deps.Ops, callTimeout: cfg.CallTimeout}
		if ops.AdminRole == "" {
			ops.AdminRole = DefaultAdminRole
		}
		ops.routes(v1)
	}
	app.Use(notFound(app))
	return app, nil
}

// Locals keys.
const (
	localUser        = "taskflow.user"
	localCorrelation = "taskflow.correlation"
	localRoles       = "taskflow.roles"
)

func userID(c *fiber.Ctx) string { return c.Locals(localUser).(string) }

// hasRole reports whether the request's token holds role.
func hasRole(c *fiber.Ctx, role string) bool {
	claims, ok := c.Locals(localRoles).(auth.Claims)
	return ok && claims.HasRole(role)
}
func correlationID(c *fiber.Ctx) string { s, _ := c.Locals(localCorrelation).(string); return s }

// correlation takes X-Correlation-ID (or X-Request-ID) when it is sane,
// otherwise makes one, and echoes it on the response. The request's
// context carries it, so every log line about the request does.
func correlation(c *fiber.Ctx) error {
	id := c.Get("X-Correlation-ID")
	if id == "" {
		id = c.Get("X-Request-ID")
	}
	if !tracing.ValidCorrelationID(id) {
		id = tracing.NewCorrelationID()
	} else {
		id = strings.Clone(id) // fasthttp reuses header memory
	}
	c.Locals(localCorrelation, id)
	c.SetUserContext(tracing.WithCorrelationID(c.UserContext(), id))
	c.Set("X-Correlation-ID", id)
	return c.Next()
}

func authenticate(v Verifier) fiber.Handler {
	return func(c *fiber.Ctx) error {
		raw, ok := auth.BearerToken(c.Get(fiber.HeaderAuthorization))
		if !ok {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="taskflow"`)
			return problem(fiber.StatusUnauthorized, "unauthorized", "Unauthorized",
				"send Authorization: Bearer <token>", task.FieldError{Field: "Authorization", Message: "a bearer token is required"})
		}
		claims, err := v.Verify(c.UserContext(), raw)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="taskflow", error="invalid_token"`)
			return err
		}
		c.Locals(localUser, claims.UserID)
		c.Locals(localRoles, claims)
		return c.Next()
	}
}

// routes lists every resource and its methods, for 405 answers.
var routes = []struct {
	pattern *regexp.Regexp
	allow   string
}{
	{regexp.MustCompile(`^/api/v1/tasks/?$`), "GET, POST"},
	{regexp.MustCompile(`^/api/v1/tasks/[^/]+/?$`), "GET, PATCH, DELETE"},
	{regexp.MustCompile(`^/api/v1/tasks/[^/]+/(complete|uncomplete)/?$`), "POST"},
	{regexp.MustCompile(`^/api/v1/tasks/[^/]+/occurrences/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/tasks/[^/]+/reminders/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/tasks/[^/]+/reminders/[^/]+/snooze/?$`), "POST"},
	{regexp.MustCompile(`^/api/v1/operations/[^/]+/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/openapi\.json$`), "GET"},
	{regexp.MustCompile(`^/api/v1/calendar/feed/?$`), "POST, DELETE"},
	{regexp.MustCompile(`^/api/v1/webhooks/?$`), "GET, POST"},
	{regexp.MustCompile(`^/api/v1/webhooks/[^/]+/?$`), "GET, PATCH, DELETE"},
	{regexp.MustCompile(`^/api/v1/webhooks/[^/]+/rotate-secret/?$`), "POST"},
	{regexp.MustCompile(`^/api/v1/webhooks/[^/]+/deliveries/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/ops/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/ops/(apps|reminders|operations|outbox|dead-letters)/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/ops/operations/[^/]+/(retry|terminate)/?$`), "POST"},
	{regexp.MustCompile(`^/api/v1/ops/dead-letters/[^/]+/?$`), "GET"},
	{regexp.MustCompile(`^/api/v1/ops/dead-letters/[^/]+/replay/?$`), "POST"},
}

func notFound(*fiber.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		for _, r := range routes {
			if r.pattern.MatchString(c.Path()) {
				c.Set(fiber.HeaderAllow, r.allow)
				return fiber.ErrMethodNotAllowed
			}
		}
		return fiber.ErrNotFound
	}
}

func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := *toProblem(err)
		p.Instance = c.Path()
		p.CorrelationID = correlationID(c)
		if p.Status >= 500 {
			logger.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Path(),
				"status", p.Status, "correlation_id", p.CorrelationID, "error", err)
		}
		c.Set(fiber.HeaderContentType, "application/problem+json")
		c.Set(fiber.HeaderCacheControl, "no-store")
		if p.Status == fiber.StatusServiceUnavailable && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, "2")
		}
		return c.Status(p.Status).JSON(p, "application/problem+json")
	}
}

// devToken mints a development token: {"user": "alice"} -> {"token": "..."}.
func devToken(secret []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var body struct {
			User  string   `json:"user"`
			Roles []string `json:"roles"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil || body.User == "" {
			return badParam("user", "is required")
		}
		if len(body.Roles) > 10 || slices.ContainsFunc(body.Roles, func(r string) bool { return r == "" || len(r) > 64 }) {
			return badParam("roles", "at most 10 roles of 1 to 64 characters")
		}
		tok, err := auth.Mint(secret, body.User, auth.MintOptions{Roles: body.Roles})
		if err != nil {
			return badParam("user", err.Error())
		}
		return c.JSON(fiber.Map{"token": tok})
	}
}

// methodLabel maps a request method to a constant label value: fasthttp's
// method string aliases a buffer it reuses, which the metric would keep,
// and arbitrary methods would grow the series without bound.
func methodLabel(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPatch, fiber.MethodPut,
		fiber.MethodDelete, fiber.MethodHead, fiber.MethodOptions} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

// saneQuery refuses query parameters that are not text: invalid UTF-8 or a
// NUL, which PostgreSQL cannot hold in a text value and no filter needs.
func saneQuery(c *fiber.Ctx) error {
	var bad string
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if bad == "" && (!utf8.Valid(k) || !utf8.Valid(v) || bytes.IndexByte(v, 0) >= 0 || bytes.IndexByte(k, 0) >= 0) {
			bad = strings.ToValidUTF8(strings.ReplaceAll(string(k), "\x00", ""), "?")
		}
	})
	if bad != "" {
		return badParam(bad, "must be text (UTF-8 without NUL characters)")
	}
	return c.Next()
}

// hardBodyLimit is where fasthttp stops reading a body and closes the
// connection; Config.BodyLimit, below it, is answered with a 413.
const hardBodyLimit = 1 << 20

// tooLarge answers 413 for a body over limit bytes.
func tooLarge(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > limit {
			return fiber.ErrRequestEntityTooLarge
		}
		return c.Next()
	}
}
