package subscribe

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

func bulkBody(t *testing.T, events ...string) string {
	t.Helper()
	type entry struct {
		EntryID string `json:"entryId"`
		Event   string `json:"event"`
	}
	var req struct {
		Entries []entry `json:"entries"`
	}
	for i, ev := range events {
		req.Entries = append(req.Entries, entry{EntryID: string(rune('a' + i)), Event: base64.StdEncoding.EncodeToString([]byte(ev))})
	}
	b, _ := json.Marshal(req)
	return string(b)
}

func TestBulkHandlerStatusesAndUndecodable(t *testing.T) {
	ev := task.NewEvent(task.EventCreated, task.Task{ID: uuid.New(), UserID: "ada", Title: "x", Version: 1}, nil, "", time.Now())
	ce, err := ev.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	body := bulkBody(t, string(ce), "garbage")
	var got []Message
	fn := func(_ context.Context, msgs []Message) []Status {
		got = msgs
		return []Status{Retry}
	}
	call := func(opts ...BulkOption) map[string]Status {
		rec := httptest.NewRecorder()
		BulkHandler(fn, slog.New(slog.DiscardHandler), opts...).ServeHTTP(rec, httptest.NewRequest("POST", "/events", strings.NewReader(body)))
		var resp struct {
			Statuses []struct {
				EntryID string `json:"entryId"`
				Status  Status `json:"status"`
			} `json:"statuses"`
		}
		if err := json.NewDecoder(rec.Body).Decode(&resp); err != nil {
			t.Fatal(err)
		}
		out := map[string]Status{}
		for _, s := range resp.Statuses {
			out[s.EntryID] = s.Status
		}
		return out
	}

	if st := call(); st["a"] != Retry || st["b"] != Drop {
		t.Fatalf("default statuses %v: want the event's own, and DROP for garbage", st)
	}
	if len(got) != 1 || got[0].EntryID != "a" || got[0].Event.EventID != ev.EventID || string(got[0].CloudEvent) != string(ce) {
		t.Fatalf("messages %+v", got)
	}
	var seen []byte
	st := call(OnUndecodable(func(_ context.Context, entryID string, raw []byte, err error) Status {
		if entryID != "b" || err == nil {
			t.Errorf("undecodable %q %v", entryID, err)
		}
		seen = raw
		return Success
	}))
	if st["b"] != Success || string(seen) != "garbage" {
		t.Fatalf("with OnUndecodable: %v, raw %q", st, seen)
	}
}
