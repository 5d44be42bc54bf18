package auditor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// DeadLetterTopic receives the task events the audit log can never hold.
const DeadLetterTopic = "task-events-dlq"

// DeadLetter is the body of a dead-letter message: why, and the message
// as it was delivered (JSON as is, anything else in base64).
type DeadLetter struct {
	Reason        string          `json:"reason"`
	Subscriber    string          `json:"subscriber"`
	Topic         string          `json:"topic"`
	EntryID       string          `json:"entry_id,omitempty"`
	EventID       string          `json:"event_id,omitempty"`
	Message       json.RawMessage `json:"message,omitempty"`
	MessageBase64 string          `json:"message_base64,omitempty"`
	FailedAt      time.Time       `json:"failed_at"`
}

func newDeadLetter(reason string, raw []byte, entryID string, at time.Time) DeadLetter {
	return NewDeadLetter("auditor", reason, raw, entryID, at)
}

// NewDeadLetter is the dead letter of a task-events message that
// subscriber (an app id) can never take: raw is the message as delivered
// (the CloudEvent), entryID its bulk entry id, if any.
func NewDeadLetter(subscriber, reason string, raw []byte, entryID string, at time.Time) DeadLetter {
	dl := DeadLetter{Reason: reason, Subscriber: subscriber, Topic: task.Topic, EntryID: entryID, FailedAt: at.UTC()}
	var probe struct {
		ID   string `json:"id"`
		Data struct {
			EventID string `json:"event_id"`
		} `json:"data"`
	}
	valid := json.Valid(raw)
	if valid && json.Unmarshal(raw, &probe) == nil {
		dl.EventID = probe.Data.EventID
		if dl.EventID == "" {
			dl.EventID = probe.ID
		}
	}
	if valid && storableJSON(raw) {
		dl.Message = raw
	} else {
		dl.MessageBase64 = base64.StdEncoding.EncodeToString(raw)
	}
	return dl
}

// storableJSON: PostgreSQL's jsonb (the dead_letters table) can hold the
// JSON raw. It cannot hold text that is not UTF-8, nor a \u0000 escape,
// and those are often why a message is dead-lettered: such a message goes
// in base64, or the dead letter would be refused in its turn. (A \u0000
// that is really an escaped backslash also goes in base64: no harm.)
func storableJSON(raw []byte) bool {
	return utf8.Valid(raw) && !bytes.Contains(raw, []byte(`\u0000`))
}

// DaprDeadLetters publishes dead letters through the sidecar's HTTP API
// to DeadLetterTopic on a pub/sub component.
type DaprDeadLetters struct {
	url    string
	client *http.Client
}

// NewDaprDeadLetters publishes through the sidecar at daprHTTPPort.
func NewDaprDeadLetters(daprHTTPPort int, pubsub string) *DaprDeadLetters {
	return &DaprDeadLetters{
		url:    "http://127.0.0.1:" + strconv.Itoa(daprHTTPPort) + "/v1.0/publish/" + url.PathEscape(pubsub) + "/" + DeadLetterTopic,
		client: &http.Client{Timeout: 10 * time.Second},
	}
}

// DeadLetter publishes dl (Dapr wraps it in a CloudEvent).
func (p *DaprDeadLetters) DeadLetter(ctx context.Context, dl DeadLetter) error {
	body, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	u := p.url
	if dl.EventID != "" {
		u += "?metadata.partitionKey=" + url.QueryEscape(dl.EventID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := os.Getenv("DAPR_API_TOKEN"); tok != "" {
		req.Header.Set("dapr-api-token", tok) // as the Go SDK sends it
	}
	if tp := tracing.Traceparent(ctx); tp != "" {
		// Dapr puts it in the CloudEvent it wraps dl in.
		req.Header.Set("traceparent", tp)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", DeadLetterTopic, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("publish to %s: %s: %s", DeadLetterTopic, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
