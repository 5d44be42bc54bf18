package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
)

// traced starts each request's server span, a child of the request's W3C
// traceparent and tracestate headers (a new trace without them), and makes it the request's
// context (c.UserContext) for the handlers: their actor calls carry it on.
// Run it after correlation, whose id the span records. Without an exporter
// the span records nothing and only passes the incoming trace context on.
func traced(tracer trace.Tracer) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := propagation.TraceContext{}.Extract(c.UserContext(), headerCarrier{c})
		// c.Method() points into fasthttp's request buffer, which the
		// connection's next request overwrites while the span waits for
		// export: the span keeps a constant instead.
		method := methodLabel(c.Method())
		ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
		c.SetUserContext(ctx)
		err := c.Next()
		if span.IsRecording() {
			status := c.Response().StatusCode()
			if err != nil {
				status = toProblem(err).Status
			}
			route := c.Route().Path
			span.SetName(method + " " + route)
			attrMethod := method
			if attrMethod == "OTHER" {
				attrMethod = "_OTHER" // OpenTelemetry's name for a method it does not know
			}
			span.SetAttributes(
				attribute.String("http.request.method", attrMethod),
				attribute.String("http.route", route),
				attribute.String("url.path", strings.Clone(c.Path())),
				attribute.Int("http.response.status_code", status),
				tracing.CorrelationKey.String(correlationID(c)),
			)
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
		}
		span.End()
		return err
	}
}

// headerCarrier reads a request's headers for the propagator. Values are
// copied: fasthttp reuses header memory once the request is done.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string {
	v := h.c.Get(key)
	if v == "" {
		return ""
	}
	return strings.Clone(v)
}

func (headerCarrier) Set(string, string) {}

func (h headerCarrier) Keys() []string {
	var keys []string
	h.c.Request().Header.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}
