package task

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AuditRecord is one row of the audit log: an event, where it sits in its
// task's hash chain, and the chain hash.
type AuditRecord struct {
	EventID       uuid.UUID       `json:"event_id"`
	EventType     string          `json:"event_type"`
	TaskID        uuid.UUID       `json:"task_id"`
	UserID        string          `json:"user_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Version       int64           `json:"version"`
	CorrelationID string          `json:"correlation_id"`
	PartitionKey  string          `json:"partition_key"`
	Payload       json.RawMessage `json:"payload"` // the full event
	ReceivedAt    time.Time       `json:"received_at"`
	ChainSeq      int64           `json:"chain_seq"`
	Hash          string          `json:"hash"`
}

// AuditRecordOf turns a received event into an audit record (not chained yet).
func AuditRecordOf(ev Event, payload json.RawMessage, receivedAt time.Time) AuditRecord {
	return AuditRecord{
		EventID: ev.EventID, EventType: string(ev.EventType), TaskID: ev.TaskID, UserID: ev.UserID,
		OccurredAt: ev.OccurredAt.UTC().Truncate(time.Microsecond), Version: ev.Version,
		CorrelationID: ev.CorrelationID, PartitionKey: ev.TaskID.String(), Payload: payload,
		ReceivedAt: receivedAt.UTC().Truncate(time.Microsecond),
	}
}

// ErrAuditPayload: an event body that cannot be part of the audit log.
var ErrAuditPayload = errors.New("event payload cannot be audited")

// ChainHash is the record's hash chained to prev, the hash of the task's
// previous record ("" for its first). It covers every column but the
// receive time (which says when this auditor got it, not what happened), and the payload in a canonical form that storing it as JSONB does
// not change (keys sorted, whitespace dropped, numbers by exact value).
func (r AuditRecord) ChainHash(prev string) (string, error) {
	canon, err := canonicalPayload(r.Payload)
	if err != nil {
		return "", fmt.Errorf("event %s: %w: %w", r.EventID, ErrAuditPayload, err)
	}
	h := sha256.New()
	for _, part := range []string{prev, r.EventID.String(), r.EventType, r.TaskID.String(), r.UserID,
		r.OccurredAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), strconv.FormatInt(r.Version, 10),
		r.CorrelationID, r.PartitionKey, strconv.FormatInt(r.ChainSeq, 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalPayload is the form of a JSON document that the hash covers.
// PostgreSQL's jsonb keeps a document's values but not its text: key order,
// whitespace, duplicate keys and the spelling of numbers (1e2 is stored as
// 100, 1.50 keeps its scale) change. So objects are written with sorted
// keys (the last of duplicates), strings re-escaped one way, and numbers as
// their exact rational value (1e2, 100 and 100.0 all become "100").
func canonicalPayload(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the document")
	}
	var out bytes.Buffer
	if err := writeCanonical(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// maxExponent bounds the numbers canonicalPayload expands (jsonb itself
// holds at most 131072 digits before the point and 16383 after).
const maxExponent = 140000

func writeCanonical(out *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(x))
	case string:
		writeString(out, x)
	case json.Number:
		if isInteger(string(x)) { // the common case, exact as written
			if x == "-0" {
				x = "0"
			}
			out.WriteString(string(x))
			return nil
		}
		mant, exp, _ := strings.Cut(strings.ToLower(string(x)), "e")
		if exp != "" {
			e, err := strconv.Atoi(exp)
			if err != nil || e > maxExponent || e < -maxExponent {
				return fmt.Errorf("number %.40s is out of range", x)
			}
		}
		if len(mant) > maxExponent {
			return fmt.Errorf("number %.40s is out of range", x)
		}
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return fmt.Errorf("number %.40s is malformed", x)
		}
		out.WriteString(r.RatString())
	case []any:
		out.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeCanonical(out, e); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, k)
			out.WriteByte(':')
			if err := writeCanonical(out, x[k]); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// isInteger: a JSON number without fraction or exponent (JSON allows no
// leading zeros, so its text is already its canonical form).
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// writeString writes s as a JSON string escaping only what JSON requires:
// quote, backslash and control characters.
func writeString(out *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	out.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			out.WriteByte('\\')
			out.WriteByte(c)
		default:
			out.WriteString(`\u00`)
			out.WriteByte(hex[c>>4])
			out.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	out.WriteString(s[start:])
	out.WriteByte('"')
}
