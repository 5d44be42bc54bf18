// Package tracing carries a request's W3C trace context and correlation id
// across the hops that are not HTTP: the actor call's request body, the
// outbox row and the CloudEvent on the topic. It depends on the
// OpenTelemetry API only, so every package (the PostgreSQL adapter
// included) may use it; the SDK, the exporter and the log handler are set
// up in internal/platform.
//
// Spans are started on the global TracerProvider. Until platform installs
// an SDK provider (only when an OTLP endpoint is configured) that provider
// records nothing: a started span is a non-recording one that carries its
// parent's span context, so an incoming traceparent still travels the whole
// way at the cost of a context value.
package tracing

import (
	"context"
	"encoding/hex"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names TaskFlow's tracer.
const InstrumentationName = "github.com/taskflow/taskflow"

// Attribute keys TaskFlow adds to its spans.
const (
	CorrelationKey = attribute.Key("taskflow.correlation_id")
	TaskIDKey      = attribute.Key("taskflow.task_id")
	EventIDKey     = attribute.Key("messaging.message.id")
)

// Tracer returns TaskFlow's tracer from the global provider. Take it once
// when building a component: a tracer taken before platform installs the
// SDK provider follows it once installed.
func Tracer() trace.Tracer { return otel.Tracer(InstrumentationName) }

// w3c is the W3C Trace Context format. The wire fields that carry a
// traceparent (actor requests, outbox rows, CloudEvents) are W3C by
// definition, whatever global propagator an app installs.
var w3c propagation.TraceContext

// Traceparent returns the W3C traceparent of the span in ctx, or "" when
// ctx holds no valid span context.
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return Format(sc)
}

// Format encodes sc as a W3C traceparent (version 00).
func Format(sc trace.SpanContext) string {
	tid, sid, flags := sc.TraceID(), sc.SpanID(), sc.TraceFlags()
	var b [55]byte // 00-<32 hex>-<16 hex>-<2 hex>
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:], []byte{byte(flags)})
	return string(b[:])
}

// Parse decodes a W3C traceparent into a remote span context; the result
// is invalid (IsValid false) when tp is empty or malformed.
func Parse(tp string) trace.SpanContext {
	if tp == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), traceparentCarrier(tp)))
}

// WithRemoteParent returns ctx with the span context that traceparent
// describes as its remote parent. A malformed or empty traceparent leaves
// ctx as it is (a span started from it takes any parent ctx already has).
func WithRemoteParent(ctx context.Context, traceparent string) context.Context {
	sc := Parse(traceparent)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// traceparentCarrier is a TextMapCarrier holding only a traceparent.
type traceparentCarrier string

func (c traceparentCarrier) Get(key string) string {
	if key == "traceparent" {
		return string(c)
	}
	return ""
}
func (traceparentCarrier) Set(string, string) {}
func (traceparentCarrier) Keys() []string     { return []string{"traceparent"} }

type correlationKey struct{}

// ValidCorrelationID reports whether a caller's correlation id (the
// X-Correlation-ID or X-Request-ID header) may be taken as it is: 1 to 128
// of A-Z a-z 0-9 . _ : - (safe in logs, headers and events).
func ValidCorrelationID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewCorrelationID makes a correlation id for a request that brought none.
func NewCorrelationID() string { return uuid.Must(uuid.NewV7()).String() }

// WithCorrelationID returns ctx carrying the correlation id (ignored when
// empty). Log lines written with ctx carry it (see platform.NewLogger).
func WithCorrelationID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id ctx carries, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// Fail marks span as failed with err (a nil err does nothing). The error
// text stays in the span: spans go to the operators' collector, not to
// clients.
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
