package task_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

func TestWithTraceparent(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ev := task.NewEvent(task.EventCreated, task.Task{ID: uuid.New(), UserID: "ada", Title: "x", Version: 1}, nil, "req-1", time.Now())
	ce, err := ev.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   string
		tp   string
		want string // the envelope's traceparent after parsing; "-" means in must come back unchanged
	}{
		{"stored event", string(ce), tp, tp},
		{"trailing whitespace (as a json column keeps it)", string(ce) + " \n", tp, tp},
		{"replaces one already there", `{"specversion":"1.0","traceparent":"00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01","data":{}}`, tp, tp},
		{"empty object", `{}`, tp, tp},
		{"empty object with space", `{ }`, tp, tp},
		{"no traceparent: unchanged", string(ce), "", "-"},
		{"not an object: unchanged", `[1]`, tp, "-"},
		{"empty: unchanged", ``, tp, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := task.WithTraceparent([]byte(tc.in), tc.tp)
			if tc.want == "-" {
				if string(out) != tc.in {
					t.Fatalf("got %s, want the input unchanged", out)
				}
				return
			}
			var env struct {
				Traceparent string `json:"traceparent"`
			}
			if err := json.Unmarshal(out, &env); err != nil {
				t.Fatalf("%s is not JSON: %v", out, err)
			}
			if env.Traceparent != tc.want {
				t.Fatalf("traceparent %q, want %q in %s", env.Traceparent, tc.want, out)
			}
		})
	}
	// The event itself survives, and ParseCloudEventData hands the
	// traceparent to subscribers.
	back, envelope, err := task.ParseCloudEventData(task.WithTraceparent(ce, tp))
	if err != nil {
		t.Fatal(err)
	}
	if back.EventID != ev.EventID || back.CorrelationID != "req-1" || envelope.Traceparent != tp {
		t.Fatalf("parsed %+v with traceparent %q", back, envelope.Traceparent)
	}
}
