package actors

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/taskflow/taskflow/internal/actorhost"
)

// Invoke runs the actor method named method with its JSON request and
// returns the JSON reply (actorhost.Actor). The method names are the
// exported method names, as the Client calls them.
func (a *TaskActor) Invoke(ctx context.Context, method string, data []byte) ([]byte, error) {
	switch method {
	case "Create":
		return invoke(ctx, data, a.Create)
	case "Get":
		return invoke(ctx, data, a.Get)
	case "Update":
		return invoke(ctx, data, a.Update)
	case "Complete":
		return invoke(ctx, data, a.Complete)
	case "Uncomplete":
		return invoke(ctx, data, a.Uncomplete)
	case "Delete":
		return invoke(ctx, data, a.Delete)
	case "Snooze":
		return invoke(ctx, data, a.Snooze)
	case "CreateInstance":
		return invoke(ctx, data, a.CreateInstance)
	case "SeriesInstanceCompleted":
		return invoke(ctx, data, a.SeriesInstanceCompleted)
	case "StartSeriesOperation":
		return invoke(ctx, data, a.StartSeriesOperation)
	case "ApplySeriesOperation":
		return invoke(ctx, data, a.ApplySeriesOperation)
	case "SeriesChange":
		return invoke(ctx, data, a.SeriesChange)
	case "ControlOperation":
		return invoke(ctx, data, a.ControlOperation)
	case "HeldReminders":
		return invoke(ctx, data, a.HeldReminders)
	case "Ping":
		return encodeReply(a.Ping(ctx))
	default:
		return nil, fmt.Errorf("%w: %q", actorhost.ErrMethodNotFound, method)
	}
}

// invoke decodes the request of a method, runs it and encodes its reply.
// An undecodable request is a caller's bug, not a user's mistake: it fails
// the call.
func invoke[T any](ctx context.Context, data []byte, method func(context.Context, *T) (*Reply, error)) ([]byte, error) {
	var req T
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, fmt.Errorf("decode request: %w", err)
		}
	}
	return encodeReply(method(ctx, &req))
}

func encodeReply(r *Reply, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(r)
}
