package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type withToken struct{ token string }

func (w withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+w.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPThroughFiber: the SDK's client reaches the tools through the api's
// /api/v1/mcp (Fiber's net/http adaptor, stateless JSON), acting as the
// token's user only.
func TestMCPThroughFiber(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	connect := func(user string) *mcp.ClientSession {
		tr := &mcp.StreamableClientTransport{Endpoint: h.base + "/api/v1/mcp", DisableStandaloneSSE: true, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: withToken{h.keys[user]}, Timeout: 10 * time.Second}}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	alice := connect("alice")
	res, err := alice.CallTool(context.Background(), &mcp.CallToolParams{Name: "create_task",
		Arguments: map[string]any{"title": "Agent-made", "priority": "high"}})
	if err != nil || res.IsError {
		t.Fatalf("create_task: %v %+v", err, res)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var made struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(raw, &made)
	if made.Title != "Agent-made" || made.UserID != "alice" {
		t.Fatalf("create_task gave %s", raw)
	}
	r := h.do(t, "alice", "GET", "/api/v1/tasks/"+made.ID, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"priority":"high"`) {
		t.Fatalf("the task the agent made: %d %s", r.status, r.body)
	}

	bob := connect("bob")
	res, err = bob.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_task", Arguments: map[string]any{"id": made.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Errorf("bob's agent read alice's task: %+v", res.StructuredContent)
	}

	resp, err := http.Post(h.base+"/api/v1/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", resp.StatusCode)
	}
}
