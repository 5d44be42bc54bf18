package notifier

import (
	"errors"

	"github.com/google/uuid"
)

var errLastEventID = errors.New("Last-Event-ID is not an event id")

// parseLastEventID reads where a reconnecting client left off: the
// Last-Event-ID header (EventSource) or the last_event_id parameter (for
// clients that cannot set headers). Nil when neither is given; only the
// canonical form of an event id (a UUID) is accepted.
func parseLastEventID(header, query string) (*uuid.UUID, error) {
	v := firstNonEmpty(header, query)
	if v == "" {
		return nil, nil
	}
	if len(v) != 36 {
		return nil, errLastEventID
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, errLastEventID
	}
	return &id, nil
}
