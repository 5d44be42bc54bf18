package postgres

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FuzzDecodeCursor: whatever a client sends as ?cursor=, DecodeCursor
// either refuses it or returns a cursor that round-trips and holds only
// what PostgreSQL can take (a NUL in the title key was a 500).
func FuzzDecodeCursor(f *testing.F) {
	now := time.Now()
	title := "groceries"
	rank := 2
	for _, c := range []Cursor{
		{Sort: SortCreatedAt, ID: uuid.New(), Time: &now},
		{Sort: SortDueDate, ID: uuid.New(), Null: true, Desc: true},
		{Sort: SortPriority, ID: uuid.New(), Num: &rank},
		{Sort: SortTitle, ID: uuid.New(), Str: &title},
	} {
		f.Add(c.Encode())
	}
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":"title","i":"` + uuid.NewString() + `","v":"\u0000"}`)))
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		if c.Str != nil && (!utf8.ValidString(*c.Str) || strings.ContainsRune(*c.Str, 0)) {
			t.Fatalf("cursor %q decodes a title key PostgreSQL refuses: %q", s, *c.Str)
		}
		again, err := DecodeCursor(c.Encode())
		if err != nil || again.Encode() != c.Encode() {
			t.Fatalf("cursor %q does not round-trip: %v", s, err)
		}
	})
}

// FuzzDecodeAuditCursor: the audit query's cursor is refused or round-trips.
func FuzzDecodeAuditCursor(f *testing.F) {
	f.Add(encodeAuditCursor(time.Now(), 3, uuid.New()))
	f.Add("not base64 !")
	f.Fuzz(func(t *testing.T, s string) {
		at, v, id, err := decodeAuditCursor(s)
		if err != nil {
			return
		}
		at2, v2, id2, err := decodeAuditCursor(encodeAuditCursor(at, v, id))
		if err != nil || !at2.Equal(at) || v2 != v || id2 != id {
			t.Fatalf("audit cursor %q does not round-trip: %v", s, err)
		}
	})
}
