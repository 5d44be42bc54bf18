package actors

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// HeldReminders answers, for the ops view, whether Dapr's scheduler holds
// each of the named reminders of this actor.
func (a *TaskActor) HeldReminders(ctx context.Context, req *HeldRequest) (*Reply, error) {
	return a.call(ctx, "held_reminders", func(time.Time) (*Reply, error) {
		id, err := a.taskID()
		if err != nil {
			return nil, err
		}
		if a.deps.Scheduled == nil || len(req.Names) > 8 {
			return nil, ErrUnavailable
		}
		held := make(map[string]bool, len(req.Names))
		for _, name := range req.Names {
			ok, err := a.deps.Scheduled.Held(ctx, id, name)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			held[name] = ok
		}
		return &Reply{Held: held}, nil
	})
}

// SidecarReminders asks a Dapr sidecar whether the scheduler holds a
// TaskActor reminder (GET /v1.0/actors/{type}/{id}/reminders/{name}).
type SidecarReminders struct {
	base   string
	client *http.Client
}

// NewSidecarReminders asks the sidecar at daprHTTPPort.
func NewSidecarReminders(daprHTTPPort int) *SidecarReminders {
	return &SidecarReminders{base: "http://127.0.0.1:" + strconv.Itoa(daprHTTPPort) + "/v1.0/actors/" + TaskActorType + "/",
		client: &http.Client{Timeout: 3 * time.Second}}
}

// Held reports whether the reminder name of task id is scheduled.
func (s *SidecarReminders) Held(ctx context.Context, id uuid.UUID, name string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+id.String()+"/reminders/"+url.PathEscape(name), nil)
	if err != nil {
		return false, err
	}
	// Dapr's API token (DAPR_API_TOKEN), as the Go SDK sends it.
	if tok := os.Getenv("DAPR_API_TOKEN"); tok != "" {
		req.Header.Set("dapr-api-token", tok)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent:
		return false, nil
	default:
		return false, fmt.Errorf("get reminder %s of %s: status %d", name, id, resp.StatusCode)
	}
}
