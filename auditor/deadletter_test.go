package auditor

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
)

// What makes a message poison for a subscriber (text that is not UTF-8, a
// \u0000 escape, which jsonb refuses) must not make its dead letter
// poison for the dead_letters table in its turn: such a message travels in
// base64, and every dead letter can be stored.
func TestDeadLettersOfRefusedDataCanBeStored(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ops := postgres.NewOps(pool)
	for _, tc := range []struct {
		name    string
		raw     string
		asJSON  bool
		eventID string
	}{
		{"plain JSON", `{"id":"ce","data":{"event_id":"e-1","title":"ok"}}`, true, "e-1"},
		{"a \\u0000 escape", `{"id":"ce","data":{"event_id":"e-2","title":"nul \u0000"}}`, false, "e-2"},
		{"not UTF-8", "{\"id\":\"ce\",\"data\":{\"event_id\":\"e-3\",\"title\":\"\xff\xfe\"}}", false, "e-3"},
		{"not JSON", "\x00garbage", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl := NewDeadLetter("notifier", "refused", []byte(tc.raw), "entry", time.Now())
			if _, err := ops.AddDeadLetter(context.Background(), postgres.DeadLetter{MessageID: tc.name, EventID: dl.EventID,
				Subscriber: dl.Subscriber, Topic: dl.Topic, Reason: dl.Reason, Message: dl.Message,
				MessageBase64: dl.MessageBase64, FailedAt: dl.FailedAt}); err != nil {
				t.Fatalf("store the dead letter: %v", err)
			}
			if dl.EventID != tc.eventID || (dl.Message != nil) != tc.asJSON {
				t.Fatalf("dead letter %+v: want event %q, as JSON %v", dl, tc.eventID, tc.asJSON)
			}
			if !tc.asJSON {
				if b, err := base64.StdEncoding.DecodeString(dl.MessageBase64); err != nil || !bytes.Equal(b, []byte(tc.raw)) {
					t.Fatalf("base64 %q does not hold the message: %v", dl.MessageBase64, err)
				}
			}
		})
	}
}
