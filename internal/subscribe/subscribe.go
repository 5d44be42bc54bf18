// Package subscribe implements the app side of Dapr's programmatic pub/sub
// subscriptions over HTTP: GET /dapr/subscribe lists the subscriptions and
// Dapr POSTs each CloudEvent to the subscription's route, expecting a
// status (SUCCESS, RETRY or DROP) back.
package subscribe

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// Subscription is one entry of GET /dapr/subscribe.
type Subscription struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Route           string            `json:"route"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
	BulkSubscribe   *Bulk             `json:"bulkSubscribe,omitempty"`
}

// RawPayload is the subscription metadata for topics whose messages are
// CloudEvents published raw (see outbox.DaprPublisher): Dapr hands them
// over untouched (base64 in bulk deliveries) instead of parsing them.
var RawPayload = map[string]string{"rawPayload": "true"}

// Bulk asks Dapr to deliver up to MaxMessages messages in one request,
// waiting at most MaxAwaitMs for a batch to fill. Serve the route with
// BulkHandler.
type Bulk struct {
	Enabled     bool `json:"enabled"`
	MaxMessages int  `json:"maxMessagesCount,omitempty"`
	MaxAwaitMs  int  `json:"maxAwaitDurationMs,omitempty"`
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
// fn runs inside a consumer span whose parent is the CloudEvent's
// traceparent, with the event's correlation id in its context.
func EventHandler(fn EventFunc, logger *slog.Logger) http.Handler {
	tracer := tracing.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		status := Drop
		if err != nil {
			status = Retry
		} else if ev, ce, perr := task.ParseCloudEventData(body); perr != nil {
			logger.WarnContext(tracing.WithRemoteParent(r.Context(), ce.Traceparent), "dropping an undecodable message", "error", perr)
		} else {
			m := Message{Event: ev, Data: ce.Data, CloudEvent: body, Traceparent: ce.Traceparent}
			ctx := m.start(r.Context(), tracer)
			status = fn(ctx, ev)
			m.end(status)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]Status{"status": status})
	})
}

// Message is one task event as delivered: decoded, with its body (the
// CloudEvent's data) and the whole CloudEvent as they were encoded.
type Message struct {
	EntryID    string // the bulk entry's id (bulk deliveries only)
	Event      task.Event
	Data       json.RawMessage
	CloudEvent json.RawMessage
	// Traceparent is the CloudEvent's W3C trace context (the publish span).
	Traceparent string

	span trace.Span // the consumer span, while the handler runs
}

// Context returns ctx carrying the message's consumer span and correlation
// id: log lines and spans about this one event use it.
func (m Message) Context(ctx context.Context) context.Context {
	ctx = tracing.WithCorrelationID(ctx, m.Event.CorrelationID)
	if m.span != nil {
		return trace.ContextWithSpan(ctx, m.span)
	}
	return tracing.WithRemoteParent(ctx, m.Traceparent)
}

// RefsListed is how many messages Refs names at most.
const RefsListed = 10

// Refs names the traces and correlation ids of the first RefsListed
// messages, for a log line about a whole batch: one line cannot carry one
// trace_id for the events of many requests.
func Refs(msgs []Message) slog.Attr {
	n := min(len(msgs), RefsListed)
	traces, correlations := make([]string, 0, n), make([]string, 0, n)
	for _, m := range msgs[:n] {
		if sc := tracing.Parse(m.Traceparent); sc.IsValid() {
			traces = append(traces, sc.TraceID().String())
		}
		if id := m.Event.CorrelationID; id != "" {
			correlations = append(correlations, id)
		}
	}
	return slog.Group("batch", "trace_ids", traces, "correlation_ids", correlations, "events", len(msgs))
}

// start begins the message's consumer span, a child of the publish span
// named by the CloudEvent's traceparent, and returns m.Context with it.
func (m *Message) start(ctx context.Context, tracer trace.Tracer) context.Context {
	ctx = tracing.WithRemoteParent(ctx, m.Traceparent)
	var span trace.Span
	ctx, span = tracer.Start(ctx, task.Topic+" process", trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", task.Topic),
			attribute.String("messaging.operation.type", "process"),
			tracing.EventIDKey.String(m.Event.EventID.String()),
			attribute.String("cloudevents.event_type", string(m.Event.EventType)),
			tracing.TaskIDKey.String(m.Event.TaskID.String()),
			tracing.CorrelationKey.String(m.Event.CorrelationID))
	}
	m.span = span
	return tracing.WithCorrelationID(ctx, m.Event.CorrelationID)
}

// end closes the consumer span with the status answered to Dapr.
func (m *Message) end(st Status) {
	if m.span == nil {
		return
	}
	if m.span.IsRecording() {
		m.span.SetAttributes(attribute.String("taskflow.delivery_status", string(st)))
		if st != Success {
			m.span.SetStatus(codes.Error, "delivery answered "+string(st))
		}
	}
	m.span.End()
	m.span = nil
}

// BatchFunc handles a batch of task events and returns one status per
// event, in order.
type BatchFunc func(ctx context.Context, msgs []Message) []Status

type bulkRequest struct {
	Entries []struct {
		EntryID string          `json:"entryId"`
		Event   json.RawMessage `json:"event"`
	} `json:"entries"`
}

type bulkStatus struct {
	EntryID string `json:"entryId"`
	Status  Status `json:"status"`
}

// UndecodableFunc decides what becomes of a delivered message that is not
// a task event; raw is the message as delivered (base64 decoded).
type UndecodableFunc func(ctx context.Context, entryID string, raw []byte, err error) Status

// BulkOption adjusts a BulkHandler.
type BulkOption func(*bulkOptions)

type bulkOptions struct {
	undecodable UndecodableFunc
	tracer      trace.Tracer
}

// WithTracer starts the consumer spans on tracer instead of
// tracing.Tracer().
func WithTracer(tracer trace.Tracer) BulkOption {
	return func(o *bulkOptions) { o.tracer = tracer }
}

// OnUndecodable hands entries that are not task events to fn (instead of
// dropping them).
func OnUndecodable(fn UndecodableFunc) BulkOption {
	return func(o *bulkOptions) { o.undecodable = fn }
}

// BulkHandler serves a bulk subscription's route: it decodes every entry,
// calls fn once for the decodable ones and answers a status per entry.
// An entry that is not a task event is dropped (and logged), unless
// OnUndecodable says otherwise. Each decoded message has a consumer span of
// its own (a child of its CloudEvent's traceparent) from decoding until its
// status is answered; Message.Context gives fn a context with it.
func BulkHandler(fn BatchFunc, logger *slog.Logger, opts ...BulkOption) http.Handler {
	o := bulkOptions{tracer: tracing.Tracer()}
	for _, opt := range opts {
		opt(&o)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req bulkRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil {
			// Without entry ids no status can be given: make Dapr redeliver.
			http.Error(w, "undecodable bulk request", http.StatusBadRequest)
			return
		}
		statuses := make([]bulkStatus, len(req.Entries))
		msgs := make([]Message, 0, len(req.Entries))
		idx := make([]int, 0, len(req.Entries))
		for i, e := range req.Entries {
			statuses[i] = bulkStatus{EntryID: e.EntryID, Status: Drop}
			m, err := parseEntry(e.Event)
			if err != nil {
				ctx := m.Context(r.Context())
				if o.undecodable != nil {
					statuses[i].Status = o.undecodable(ctx, e.EntryID, m.CloudEvent, err)
				} else {
					logger.WarnContext(ctx, "dropping an undecodable message", "entry_id", e.EntryID, "error", err)
				}
				continue
			}
			m.EntryID = e.EntryID
			m.start(r.Context(), o.tracer)
			msgs = append(msgs, m)
			idx = append(idx, i)
		}
		if len(msgs) > 0 {
			for j, st := range fn(r.Context(), msgs) {
				statuses[idx[j]].Status = st
			}
			for j := range msgs {
				msgs[j].end(statuses[idx[j]].Status)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string][]bulkStatus{"statuses": statuses})
	})
}

// Each adapts a per-event function to a BatchFunc; fn gets each message's
// Context.
func Each(fn EventFunc) BatchFunc {
	return func(ctx context.Context, msgs []Message) []Status {
		out := make([]Status, len(msgs))
		for i, m := range msgs {
			out[i] = fn(m.Context(ctx), m.Event)
		}
		return out
	}
}

// parseEntry decodes a bulk entry's event: a JSON object, or (raw payload
// subscriptions) a JSON string holding the message bytes in base64.
// On error the Message holds the entry as far as it could be decoded.
func parseEntry(raw json.RawMessage) (Message, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var b64 string
		if err := json.Unmarshal(raw, &b64); err != nil {
			return Message{CloudEvent: raw}, err
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return Message{CloudEvent: raw}, fmt.Errorf("decode raw payload: %w", err)
		}
		raw = b
	}
	ev, ce, err := task.ParseCloudEventData(raw)
	return Message{Event: ev, Data: ce.Data, CloudEvent: raw, Traceparent: ce.Traceparent}, err
}
