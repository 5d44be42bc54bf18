package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
)

// ErrUnavailable means the actor could not be reached (sidecar, placement
// or actors app down, or the call timed out); the caller may retry.
var ErrUnavailable = errors.New("task actor unavailable")

// Invoker is the part of the Dapr client that calls actors.
type Invoker interface {
	InvokeActor(ctx context.Context, req *dapr.InvokeActorRequest) (*dapr.InvokeActorResponse, error)
}

// Client calls TaskActors through the caller's Dapr sidecar. Each call is a
// client span whose trace context travels in the request (its Traceparent
// field). It is safe for concurrent use.
type Client struct {
	inv    Invoker
	tracer trace.Tracer
}

// NewClient returns a Client using inv.
func NewClient(inv Invoker) *Client { return &Client{inv: inv, tracer: tracing.Tracer()} }

// Create calls TaskActor.Create on the actor for id.
func (c *Client) Create(ctx context.Context, id uuid.UUID, req CreateRequest) (*Reply, error) {
	return c.invoke(ctx, id, "Create", &req)
}

// Get calls TaskActor.Get.
func (c *Client) Get(ctx context.Context, id uuid.UUID, req Request) (*Reply, error) {
	return c.invoke(ctx, id, "Get", &req)
}

// Update calls TaskActor.Update.
func (c *Client) Update(ctx context.Context, id uuid.UUID, req UpdateRequest) (*Reply, error) {
	return c.invoke(ctx, id, "Update", &req)
}

// Complete calls TaskActor.Complete.
func (c *Client) Complete(ctx context.Context, id uuid.UUID, req Request) (*Reply, error) {
	return c.invoke(ctx, id, "Complete", &req)
}

// Uncomplete calls TaskActor.Uncomplete.
func (c *Client) Uncomplete(ctx context.Context, id uuid.UUID, req Request) (*Reply, error) {
	return c.invoke(ctx, id, "Uncomplete", &req)
}

// Delete calls TaskActor.Delete.
func (c *Client) Delete(ctx context.Context, id uuid.UUID, req Request) (*Reply, error) {
	return c.invoke(ctx, id, "Delete", &req)
}

// CreateInstance calls TaskActor.CreateInstance on the instance's actor.
func (c *Client) CreateInstance(ctx context.Context, id uuid.UUID, req InstanceRequest) (*Reply, error) {
	return c.invoke(ctx, id, "CreateInstance", &req)
}

// SeriesInstanceCompleted calls TaskActor.SeriesInstanceCompleted on the series' actor.
func (c *Client) SeriesInstanceCompleted(ctx context.Context, series uuid.UUID, req CompletionNotice) (*Reply, error) {
	return c.invoke(ctx, series, "SeriesInstanceCompleted", &req)
}

// StartSeriesOperation calls TaskActor.StartSeriesOperation on the series' actor.
func (c *Client) StartSeriesOperation(ctx context.Context, series uuid.UUID, req OperationRequest) (*Reply, error) {
	return c.invoke(ctx, series, "StartSeriesOperation", &req)
}

// ApplySeriesOperation calls TaskActor.ApplySeriesOperation on the series' actor.
func (c *Client) ApplySeriesOperation(ctx context.Context, series uuid.UUID, op SeriesOperation) (*Reply, error) {
	return c.invoke(ctx, series, "ApplySeriesOperation", &op)
}

// SeriesChange calls TaskActor.SeriesChange on an instance's actor.
func (c *Client) SeriesChange(ctx context.Context, instance uuid.UUID, op SeriesOperation) (*Reply, error) {
	return c.invoke(ctx, instance, "SeriesChange", &op)
}

// Snooze calls TaskActor.Snooze.
func (c *Client) Snooze(ctx context.Context, id uuid.UUID, req SnoozeRequest) (*Reply, error) {
	return c.invoke(ctx, id, "Snooze", &req)
}

// ControlOperation calls TaskActor.ControlOperation on the series' actor.
func (c *Client) ControlOperation(ctx context.Context, series uuid.UUID, req ControlRequest) (*Reply, error) {
	return c.invoke(ctx, series, "ControlOperation", req)
}

// Held asks task id's actor whether Dapr's scheduler holds its reminder
// name (only the actors app's sidecar can tell).
func (c *Client) Held(ctx context.Context, id uuid.UUID, name string) (bool, error) {
	reply, err := c.invoke(ctx, id, "HeldReminders", HeldRequest{Names: []string{name}})
	if err != nil {
		return false, err
	}
	if err := reply.Err(); err != nil {
		return false, err
	}
	held, ok := reply.Held[name]
	if !ok {
		return false, fmt.Errorf("%w: no answer about reminder %s", ErrUnavailable, name)
	}
	return held, nil
}

// Ping calls TaskActor.Ping: a bare actor round trip.
func (c *Client) Ping(ctx context.Context, id uuid.UUID) error {
	_, err := c.invoke(ctx, id, "Ping", nil)
	return err
}

// invoke returns the actor's reply; a reply carrying an actor error is
// returned as is (use Reply.Err), transport failures wrap ErrUnavailable.
func (c *Client) invoke(ctx context.Context, id uuid.UUID, method string, req any) (reply *Reply, err error) {
	if t, ok := req.(traced); ok {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			// No span in ctx (a workflow activity): the request's own
			// trace context, if it has one, is the parent.
			tp, _ := t.trace()
			ctx = tracing.WithRemoteParent(ctx, tp)
		}
		var span trace.Span
		ctx, span = c.tracer.Start(ctx, TaskActorType+"."+method, trace.WithSpanKind(trace.SpanKindClient))
		defer func() { endCall(span, id, reply, err) }()
		if tp := tracing.Traceparent(ctx); tp != "" {
			t.setTraceparent(tp)
		}
	}
	var data []byte
	if req != nil {
		var err error
		if data, err = json.Marshal(req); err != nil {
			return nil, fmt.Errorf("encode %s request: %w", method, err)
		}
	}
	resp, err := c.inv.InvokeActor(ctx, &dapr.InvokeActorRequest{
		ActorType: TaskActorType,
		ActorID:   id.String(),
		Method:    method,
		Data:      data,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, id, err)
	}
	reply = new(Reply)
	if err := json.Unmarshal(resp.Data, reply); err != nil {
		return nil, fmt.Errorf("%w: %s %s: undecodable reply: %w", ErrUnavailable, method, id, err)
	}
	return reply, nil
}

// endCall ends an actor call's client span with the call's outcome.
func endCall(span trace.Span, id uuid.UUID, reply *Reply, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("dapr.actor.type", TaskActorType), attribute.String("dapr.actor.id", id.String()))
		tracing.Fail(span, err)
		if reply != nil && reply.Error != nil {
			span.SetAttributes(attribute.String("taskflow.error_code", string(reply.Error.Code)))
		}
	}
	span.End()
}
