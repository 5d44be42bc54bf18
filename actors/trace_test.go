package actors_test

import (
	"context"
	"sync"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// loopback delivers actor calls the way Dapr does: only the bytes travel,
// not the caller's context.
type loopback struct{ e *env }

func (l loopback) InvokeActor(_ context.Context, req *dapr.InvokeActorRequest) (*dapr.InvokeActorResponse, error) {
	id, err := uuid.Parse(req.ActorID)
	if err != nil {
		return nil, err
	}
	out, err := l.e.placed(id).Invoke(context.Background(), req.Method, req.Data)
	if err != nil {
		return nil, err
	}
	return &dapr.InvokeActorResponse{Data: out}, nil
}

// traceStore notes the trace context and correlation id each write's
// context holds: the PostgreSQL store puts that traceparent in the outbox.
type traceStore struct {
	*memStore
	mu     sync.Mutex
	writes []string // traceparent per inserted event
	corr   []string
}

func (s *traceStore) Insert(ctx context.Context, t task.Task, ev task.Event, idem *task.IdempotencyKey, x task.Extras) (*task.Task, error) {
	s.mu.Lock()
	s.writes = append(s.writes, tracing.Traceparent(ctx))
	s.corr = append(s.corr, tracing.CorrelationID(ctx))
	s.mu.Unlock()
	return s.memStore.Insert(ctx, t, ev, idem, x)
}

// The caller's trace context travels in the request body: the actor's
// method runs in a server span that is a child of the caller's span, and
// the write (so the outbox row) carries the actor's span.
func TestTraceContextReachesTheActorAndItsWrite(t *testing.T) {
	t.Parallel()
	e := newEnv()
	store := &traceStore{memStore: e.store}
	e.deps.Store = store
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	e.deps.Tracer = tp.Tracer("actors")

	// The API's request span (the client's own span records nothing here:
	// no SDK provider is installed globally, as without an exporter).
	ctx, apiSpan := tp.Tracer("api").Start(context.Background(), "POST /api/v1/tasks", trace.WithSpanKind(trace.SpanKindServer))
	client := actors.NewClient(loopback{e})
	reply, err := client.Create(ctx, uuid.Must(uuid.NewV7()), actors.CreateRequest{
		Request: actors.Request{UserID: "alice", CorrelationID: "corr-42"},
		Draft:   task.Draft{Title: "traced"},
	})
	apiSpan.End()
	if err != nil || reply.Err() != nil {
		t.Fatalf("create: %v %v", err, reply.Err())
	}

	var actorSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "TaskActor.Create" {
			actorSpan = s
		}
	}
	if actorSpan == nil {
		t.Fatalf("no TaskActor.Create span among %d", len(rec.Ended()))
	}
	api := apiSpan.SpanContext()
	if actorSpan.SpanKind() != trace.SpanKindServer || actorSpan.SpanContext().TraceID() != api.TraceID() ||
		actorSpan.Parent().SpanID() != api.SpanID() || !actorSpan.Parent().IsRemote() {
		t.Fatalf("actor span %v (parent %v, kind %v), want a server span, remote child of %v",
			actorSpan.SpanContext(), actorSpan.Parent(), actorSpan.SpanKind(), api)
	}
	var corr string
	for _, kv := range actorSpan.Attributes() {
		if kv.Key == tracing.CorrelationKey {
			corr = kv.Value.AsString()
		}
	}
	if corr != "corr-42" {
		t.Errorf("actor span correlation id %q, want corr-42", corr)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.writes) != 1 || tracing.Parse(store.writes[0]).SpanID() != actorSpan.SpanContext().SpanID() {
		t.Fatalf("the write's trace context %q, want the actor span %v", store.writes, actorSpan.SpanContext().SpanID())
	}
	if store.corr[0] != "corr-42" {
		t.Fatalf("the write's correlation id %q", store.corr[0])
	}
}

// A call without trace context stays without one: nothing is invented
// when nothing exports (the global provider records nothing).
func TestNoTraceContextStaysNone(t *testing.T) {
	t.Parallel()
	e := newEnv()
	store := &traceStore{memStore: e.store}
	e.deps.Store = store
	client := actors.NewClient(loopback{e})
	reply, err := client.Create(context.Background(), uuid.Must(uuid.NewV7()), actors.CreateRequest{
		Request: actors.Request{UserID: "alice"}, Draft: task.Draft{Title: "plain"},
	})
	if err != nil || reply.Err() != nil {
		t.Fatalf("create: %v %v", err, reply.Err())
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.writes) != 1 || store.writes[0] != "" {
		t.Fatalf("the write's trace context %q, want none", store.writes)
	}
}
