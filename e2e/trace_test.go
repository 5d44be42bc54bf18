package e2e_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span as an app exported it.
type otlpSpan struct {
	service string
	span    *tracepb.Span
}

func (s otlpSpan) attr(key string) string {
	for _, kv := range s.span.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func (s otlpSpan) String() string {
	return fmt.Sprintf("%s:%q(span %x parent %x)", s.service, s.span.GetName(), s.span.GetSpanId(), s.span.GetParentSpanId())
}

// otlpReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf)
// that keeps every span it is sent. Safe for concurrent use.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
	bad   []string
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			r.fail(w, "gzip: "+err.Error())
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	if err != nil {
		r.fail(w, err.Error())
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" ||
		!strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-protobuf") {
		r.fail(w, fmt.Sprintf("%s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type")))
		return
	}
	if err := proto.Unmarshal(b, &export); err != nil {
		r.fail(w, "decode: "+err.Error())
		return
	}
	r.mu.Lock()
	for _, rs := range export.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, otlpSpan{service: service, span: s})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *otlpReceiver) fail(w http.ResponseWriter, why string) {
	r.mu.Lock()
	r.bad = append(r.bad, why)
	r.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

// trace returns the spans received so far with traceID.
func (r *otlpReceiver) trace(traceID []byte) []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpSpan
	for _, s := range r.spans {
		if bytes.Equal(s.span.GetTraceId(), traceID) {
			out = append(out, s)
		}
	}
	return out
}

func services(spans []otlpSpan) []string {
	var out []string
	for _, s := range spans {
		if !slices.Contains(out, s.service) {
			out = append(out, s.service)
		}
	}
	sort.Strings(out)
	return out
}

// TestTraceAcrossTheStack sends a create with a W3C traceparent to a stack
// that exports to an in-test OTLP receiver, and follows that one trace
// through the API, the actor and its outbox relay, the broker and both
// subscribers, each span the child of the hop before.
func TestTraceAcrossTheStack(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	otel := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: export soon after a span ends
	}
	e := startStack(t, stackOptions{appEnv: map[string]map[string]string{
		"api": otel, "actors": otel, "notifier": otel, "auditor": otel,
	}})

	traceID, callerSpan := make([]byte, 16), make([]byte, 8)
	_, _ = rand.Read(traceID)
	_, _ = rand.Read(callerSpan)
	traceparent := "00-" + hex.EncodeToString(traceID) + "-" + hex.EncodeToString(callerSpan) + "-01"
	correlation := "trace-e2e-" + uuid.NewString()

	user := "alice-" + uuid.NewString()
	alice := e.as(t, user)
	created := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Follow me"},
		"traceparent", traceparent, "X-Correlation-ID", correlation).task(t)

	// On the topic: the event carries the correlation id, and its
	// CloudEvent the trace (a publish span of the same trace).
	rec := e.events.wait(t, created.ID.String(), 1)[0]
	if rec.Event.CorrelationID != correlation {
		t.Errorf("event correlation_id %q, want %q", rec.Event.CorrelationID, correlation)
	}
	published, _ := rec.CloudEvent["traceparent"].(string)
	if !strings.HasPrefix(published, "00-"+hex.EncodeToString(traceID)+"-") {
		t.Errorf("CloudEvent traceparent %q, want one in trace %x", published, traceID)
	}

	// The spans of all four apps arrive in that one trace.
	want := []string{"actors", "api", "auditor", "notifier"}
	var spans []otlpSpan
	eventually(t, 60*time.Second, fmt.Sprintf("spans of %v in trace %x", want, traceID), func() bool {
		spans = rcv.trace(traceID)
		return slices.Equal(services(spans), want) &&
			len(find(spans, "notifier", "task-events process")) > 0 && len(find(spans, "auditor", "task-events process")) > 0
	})
	rcv.mu.Lock()
	bad := slices.Clone(rcv.bad)
	rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("the receiver refused exports: %v", bad)
	}

	// Each hop is the child of the one before.
	api := one(t, spans, "api", "POST /api/v1/tasks")
	if !bytes.Equal(api.span.GetParentSpanId(), callerSpan) || api.span.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("api span %v: want a server span, child of the caller's span %x", api, callerSpan)
	}
	call := one(t, spans, "api", "TaskActor.Create")
	childOf(t, call, api)
	actor := one(t, spans, "actors", "TaskActor.Create")
	childOf(t, actor, call)
	publish := one(t, spans, "actors", "task-events publish")
	childOf(t, publish, actor)
	if hex.EncodeToString(publish.span.GetSpanId()) != published[36:52] {
		t.Errorf("the CloudEvent names span %s, want the publish span %x", published[36:52], publish.span.GetSpanId())
	}
	// Each subscriber consumes in a child of the publish (a redelivery
	// would add a second one, also its child).
	consumers := append(find(spans, "notifier", "task-events process"), find(spans, "auditor", "task-events process")...)
	for _, consume := range consumers {
		childOf(t, consume, publish)
		if consume.span.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER {
			t.Errorf("%v: kind %v, want consumer", consume, consume.span.GetKind())
		}
		if got := consume.attr("messaging.message.id"); got != rec.Event.EventID.String() {
			t.Errorf("%v: message id %q, want the event's %s", consume, got, rec.Event.EventID)
		}
	}
	// The correlation id is on the spans of every app.
	for _, s := range append([]otlpSpan{api, actor}, consumers...) {
		if got := s.attr("taskflow.correlation_id"); got != correlation {
			t.Errorf("%v: correlation id %q, want %q", s, got, correlation)
		}
	}
	if t.Failed() {
		t.Logf("trace %x: %v", traceID, spans)
	}

	// The auditor's query API (outside the api app) continues a caller's
	// trace too, with the caller's correlation id.
	queryTrace := make([]byte, 16)
	_, _ = rand.Read(queryTrace)
	queryCorrelation := "trace-e2e-query-" + uuid.NewString()
	r := e.auditAs(t, user).do("GET", "/api/v1/audit/tasks/"+created.ID.String(), nil,
		"traceparent", "00-"+hex.EncodeToString(queryTrace)+"-"+hex.EncodeToString(callerSpan)+"-01",
		"X-Correlation-ID", queryCorrelation)
	if got := r.header.Get("X-Correlation-ID"); got != queryCorrelation {
		t.Errorf("auditor echoed correlation id %q, want %q", got, queryCorrelation)
	}
	eventually(t, 30*time.Second, "the auditor's query span", func() bool {
		return len(find(rcv.trace(queryTrace), "auditor", "GET /api/v1/audit/tasks/{task_id}")) == 1
	})
	query := one(t, rcv.trace(queryTrace), "auditor", "GET /api/v1/audit/tasks/{task_id}")
	if !bytes.Equal(query.span.GetParentSpanId(), callerSpan) || query.attr("taskflow.correlation_id") != queryCorrelation {
		t.Errorf("query span %v correlation %q: want a child of the caller with %q", query, query.attr("taskflow.correlation_id"), queryCorrelation)
	}
}

// find returns the spans named name (of service, unless it is "").
func find(spans []otlpSpan, service, name string) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if s.span.GetName() == name && (service == "" || s.service == service) {
			out = append(out, s)
		}
	}
	return out
}

// one returns the one span of service named name.
func one(t testing.TB, spans []otlpSpan, service, name string) otlpSpan {
	t.Helper()
	got := find(spans, service, name)
	if len(got) != 1 {
		t.Fatalf("%d spans %q from %s in %v, want 1", len(got), name, service, spans)
	}
	return got[0]
}

func childOf(t testing.TB, child, parent otlpSpan) {
	t.Helper()
	if !bytes.Equal(child.span.GetParentSpanId(), parent.span.GetSpanId()) {
		t.Errorf("%v is not a child of %v", child, parent)
	}
}
