package actors

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/actorhost"
	"github.com/taskflow/taskflow/internal/tracing"
)

// Invoke runs the actor method named method with its JSON request and
// returns the JSON reply (actorhost.Actor). The method names are the
// exported method names, as the Client calls them.
func (a *TaskActor) Invoke(ctx context.Context, method string, data []byte) ([]byte, error) {
	switch method {
	case "Create":
		return invoke(ctx, a, "TaskActor.Create", data, a.Create)
	case "Get":
		return invoke(ctx, a, "TaskActor.Get", data, a.Get)
	case "Update":
		return invoke(ctx, a, "TaskActor.Update", data, a.Update)
	case "Complete":
		return invoke(ctx, a, "TaskActor.Complete", data, a.Complete)
	case "Uncomplete":
		return invoke(ctx, a, "TaskActor.Uncomplete", data, a.Uncomplete)
	case "Delete":
		return invoke(ctx, a, "TaskActor.Delete", data, a.Delete)
	case "Snooze":
		return invoke(ctx, a, "TaskActor.Snooze", data, a.Snooze)
	case "CreateInstance":
		return invoke(ctx, a, "TaskActor.CreateInstance", data, a.CreateInstance)
	case "SeriesInstanceCompleted":
		return invoke(ctx, a, "TaskActor.SeriesInstanceCompleted", data, a.SeriesInstanceCompleted)
	case "StartSeriesOperation":
		return invoke(ctx, a, "TaskActor.StartSeriesOperation", data, a.StartSeriesOperation)
	case "ApplySeriesOperation":
		return invoke(ctx, a, "TaskActor.ApplySeriesOperation", data, a.ApplySeriesOperation)
	case "SeriesChange":
		return invoke(ctx, a, "TaskActor.SeriesChange", data, a.SeriesChange)
	case "ControlOperation":
		return invoke(ctx, a, "TaskActor.ControlOperation", data, a.ControlOperation)
	case "HeldReminders":
		return invoke(ctx, a, "TaskActor.HeldReminders", data, a.HeldReminders)
	case "Ping":
		return encodeReply(a.Ping(ctx))
	default:
		return nil, fmt.Errorf("%w: %q", actorhost.ErrMethodNotFound, method)
	}
}

// invoke decodes the request of a method, runs it and encodes its reply.
// An undecodable request is a caller's bug, not a user's mistake: it fails
// the call. The method runs in a server span named span, a child of the
// caller's traceparent, with the request's correlation id in its context.
func invoke[T any](ctx context.Context, a *TaskActor, span string, data []byte, method func(context.Context, *T) (*Reply, error)) ([]byte, error) {
	var req T
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, fmt.Errorf("decode request: %w", err)
		}
	}
	var correlation string
	if t, ok := any(&req).(traced); ok {
		var tp string
		tp, correlation = t.trace()
		ctx = tracing.WithCorrelationID(tracing.WithRemoteParent(ctx, tp), correlation)
	}
	ctx, sp := a.tracer.Start(ctx, span, trace.WithSpanKind(trace.SpanKindServer))
	reply, err := method(ctx, &req)
	if sp.IsRecording() {
		sp.SetAttributes(attribute.String("dapr.actor.type", TaskActorType), attribute.String("dapr.actor.id", a.id),
			tracing.TaskIDKey.String(a.id), tracing.CorrelationKey.String(correlation))
		tracing.Fail(sp, err)
		if reply != nil && reply.Error != nil {
			sp.SetAttributes(attribute.String("taskflow.error_code", string(reply.Error.Code)))
			if reply.Error.Code == CodeInternal || reply.Error.Code == CodeUnavailable {
				sp.SetStatus(codes.Error, string(reply.Error.Code))
			}
		}
	}
	sp.End()
	return encodeReply(reply, err)
}

func encodeReply(r *Reply, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(r)
}
