package task

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCanonicalPayloadKeepsValuesNotSpelling(t *testing.T) {
	same := [][]string{
		{`{"a":1,"b":2}`, `{ "b" : 2 , "a" : 1 }`, "{\n\t\"a\": 1,\n\t\"b\": 2\n}"},
		{`[100]`, `[1e2]`, `[100.0]`, `[1E+2]`, `[10000e-2]`},
		{`[1.5]`, `[1.50]`, `[15e-1]`, `[0.15E1]`},
		{`[0]`, `[-0]`, `[0.0]`, `[-0.0e5]`},
		{`{"k":2}`, `{"k":1,"k":2}`}, // jsonb keeps the last of duplicate keys
		{`"café <&> \u2028"`, `"caf\u00e9 \u003c\u0026\u003e \u2028"`},
		{`"tab\there"`, `"tab\u0009here"`},
		{`[12345678901234567890123456789]`, `[12345678901234567890123456789.000]`},
	}
	for _, group := range same {
		want, err := canonicalPayload([]byte(group[0]))
		if err != nil {
			t.Fatalf("%s: %v", group[0], err)
		}
		for _, doc := range group[1:] {
			got, err := canonicalPayload([]byte(doc))
			if err != nil || string(got) != string(want) {
				t.Errorf("%s -> %s (%v), want %s like %s", doc, got, err, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{`[1]`, `["1"]`}, {`[1,2]`, `[2,1]`}, {`{"a":null}`, `{}`}, {`[0.1]`, `[0.10000000000000001]`},
		{`{"a":{"b":1}}`, `{"a.b":1}`}, {`["a\"b"]`, `["a\\b"]`}, {`[true]`, `["true"]`},
	}
	for _, d := range differ {
		a, err1 := canonicalPayload([]byte(d[0]))
		b, err2 := canonicalPayload([]byte(d[1]))
		if err1 != nil || err2 != nil || string(a) == string(b) {
			t.Errorf("%s and %s both -> %s (%v %v)", d[0], d[1], a, err1, err2)
		}
	}
	for _, bad := range []string{``, `{"a":`, `{} {}`, `[1e999999]`, `[` + strings.Repeat("9", 150000) + `.5]`} {
		if _, err := canonicalPayload([]byte(bad)); err == nil {
			t.Errorf("%.40s: accepted", bad)
		}
	}
}

func TestChainHashCoversEveryFieldButReceipt(t *testing.T) {
	base := AuditRecord{EventID: uuid.New(), EventType: "task.updated", TaskID: uuid.New(), UserID: "ada",
		OccurredAt: time.Date(2026, 11, 26, 9, 0, 0, 123456000, time.UTC), Version: 3, CorrelationID: "c",
		PartitionKey: "p", Payload: json.RawMessage(`{"a":1}`), ReceivedAt: time.Now(), ChainSeq: 2}
	h0, err := base.ChainHash("prev")
	if err != nil {
		t.Fatal(err)
	}
	unchanged := base
	unchanged.ReceivedAt = unchanged.ReceivedAt.Add(time.Hour)
	unchanged.Payload = json.RawMessage(`{ "a" : 1.0 }`)
	unchanged.OccurredAt = unchanged.OccurredAt.In(time.FixedZone("x", 3600)).Add(400 * time.Nanosecond) // stored to the microsecond
	if h, _ := unchanged.ChainHash("prev"); h != h0 {
		t.Error("the receive time, the payload's spelling or sub-microsecond time changed the hash")
	}
	for name, change := range map[string]func(*AuditRecord){
		"event_id": func(r *AuditRecord) { r.EventID = uuid.New() }, "event_type": func(r *AuditRecord) { r.EventType = "task.deleted" },
		"task_id": func(r *AuditRecord) { r.TaskID = uuid.New() }, "user_id": func(r *AuditRecord) { r.UserID = "eve" },
		"occurred_at": func(r *AuditRecord) { r.OccurredAt = r.OccurredAt.Add(time.Microsecond) },
		"version":     func(r *AuditRecord) { r.Version++ }, "correlation_id": func(r *AuditRecord) { r.CorrelationID = "d" },
		"payload": func(r *AuditRecord) { r.Payload = json.RawMessage(`{"a":2}`) }, "chain_seq": func(r *AuditRecord) { r.ChainSeq++ },
		"partition_key": func(r *AuditRecord) { r.PartitionKey = "q" },
	} {
		r := base
		change(&r)
		if h, _ := r.ChainHash("prev"); h == h0 {
			t.Errorf("changing %s kept the hash", name)
		}
	}
	if h, _ := base.ChainHash("other"); h == h0 {
		t.Error("the previous hash is not chained")
	}
}
