package notifier

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzParseLastEventID: anything a client sends as Last-Event-ID is
// refused or is an event id whose canonical form is what was sent (up to
// case), so it can only ever name an event.
func FuzzParseLastEventID(f *testing.F) {
	f.Add(uuid.NewString(), "")
	f.Add("", uuid.NewString())
	f.Add("urn:uuid:"+uuid.NewString(), "")
	f.Add("{"+uuid.NewString()+"}", "x")
	f.Add(strings.Repeat("9", 5000), "")
	f.Fuzz(func(t *testing.T, header, query string) {
		id, err := parseLastEventID(header, query)
		sent := firstNonEmpty(header, query)
		switch {
		case err != nil:
			if id != nil {
				t.Fatal("an error with an id")
			}
		case sent == "":
			if id != nil {
				t.Fatalf("an id from nothing: %v", id)
			}
		case id == nil || !strings.EqualFold(id.String(), sent):
			t.Fatalf("%q accepted as %v", sent, id)
		}
	})
}
