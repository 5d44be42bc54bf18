// Package subscribe implements the app side of Dapr's programmatic pub/sub
// subscriptions over HTTP: GET /dapr/subscribe lists the subscriptions and
// Dapr POSTs each CloudEvent to the subscription's route, expecting a
// status (SUCCESS, RETRY or DROP) back.
package subscribe

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/taskflow/taskflow/task"
)

// Subscription is one entry of GET /dapr/subscribe.
type Subscription struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Route           string            `json:"route"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
}

// Status tells Dapr what to do with a delivered message.
type Status string

// The statuses.
const (
	Success Status = "SUCCESS" // processed; commit the offset
	Retry   Status = "RETRY"   // redeliver later
	Drop    Status = "DROP"    // discard (or dead-letter) it
)

// ListHandler answers GET /dapr/subscribe.
func ListHandler(subs ...Subscription) http.Handler {
	body, _ := json.Marshal(subs)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// EventFunc handles one task event.
type EventFunc func(ctx context.Context, ev task.Event) Status

// EventHandler decodes the CloudEvent Dapr delivers and calls fn. A body
// that is not a task event can never succeed, so it is dropped (and logged).
func EventHandler(fn EventFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		status := Drop
		if err != nil {
			status = Retry
		} else if ev, perr := task.ParseCloudEvent(body); perr != nil {
			logger.WarnContext(r.Context(), "dropping an undecodable message", "error", perr)
		} else {
			status = fn(r.Context(), ev)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]Status{"status": status})
	})
}
