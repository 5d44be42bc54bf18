package platform

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
)

// TraceHTTP serves h in a server span per request, a child of the
// request's W3C traceparent (a new trace without one), with the request's
// correlation id in the context: X-Correlation-ID, else X-Request-ID, when
// valid, otherwise a new one, echoed on the response. Log lines written
// with the request's context carry trace_id and correlation_id.
//
// It is for the apps' public routes outside the api (the notifier's
// streams, the auditor's queries); Dapr's deliveries have spans of their
// own per event (internal/subscribe). The ResponseWriter is passed on as it
// is, so streams may still hijack or flush it; the span therefore does not
// record the status.
func TraceHTTP(tracer trace.Tracer, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Correlation-ID")
		if id == "" {
			id = r.Header.Get("X-Request-ID")
		}
		if !tracing.ValidCorrelationID(id) {
			id = tracing.NewCorrelationID()
		}
		w.Header().Set("X-Correlation-ID", id)
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		name := r.Pattern // set when a ServeMux routed here
		if name == "" {
			name = r.Method
		}
		ctx, span := tracer.Start(tracing.WithCorrelationID(ctx, id), name, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		r = r.WithContext(ctx)
		h.ServeHTTP(w, r)
		if span.IsRecording() {
			// A ServeMux inside h sets the pattern it matched on r.
			if r.Pattern != "" && r.Pattern != name {
				span.SetName(r.Pattern)
			}
			span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", r.Pattern),
				attribute.String("url.path", r.URL.Path), tracing.CorrelationKey.String(id))
		}
	})
}
