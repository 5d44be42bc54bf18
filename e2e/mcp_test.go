package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds a user's token (and zone) to every MCP request.
type bearer struct {
	token, zone string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	if b.zone != "" {
		r.Header.Set("Time-Zone", b.zone)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// mcpOverHTTP connects the SDK's own client to the api's /api/v1/mcp as c's user.
func mcpOverHTTP(t *testing.T, e *env, c *client, zone string) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: e.api + "/api/v1/mcp", DisableStandaloneSSE: true, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: c.token, zone: zone}, Timeout: 30 * time.Second}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatalf("connect over HTTP: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// tool calls a tool and decodes its structured result; failed reports a
// tool error (its text) instead of failing the test.
func tool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (out map[string]any, failed string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		return nil, text.String()
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: structured result %s: %v", name, raw, err)
	}
	return out, ""
}

func mustTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	out, failed := tool(t, cs, name, args)
	if failed != "" {
		t.Fatalf("%s %v: %s", name, args, failed)
	}
	return out
}

func itemIDs(v any) []string {
	var ids []string
	items, _ := v.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			ids = append(ids, m["id"].(string))
		}
	}
	return ids
}

func readResource(t *testing.T, cs *mcp.ClientSession, uri string) []string {
	t.Helper()
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	var page struct {
		Items []any `json:"items"`
	}
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &page); err != nil {
		t.Fatalf("%s: %v", uri, err)
	}
	return itemIDs(page.Items)
}

// TestMCPOnTheStack drives every MCP tool and resource with the SDK's own
// client against the running stack, over the api's Streamable HTTP
// endpoint and over `taskflow mcp` (stdio), and checks that one user's
// agent never reaches another's tasks.
func TestMCPOnTheStack(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	alice := e.as(t, "alice-"+uuid.NewString())
	cs := mcpOverHTTP(t, e, alice, "UTC")

	var names []string
	for tl, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	for _, want := range []string{"list_tasks", "search_tasks", "get_task", "create_task", "update_task", "complete_task",
		"reopen_task", "delete_task", "snooze_reminder", "list_occurrences", "task_history"} {
		if !slices.Contains(names, want) {
			t.Errorf("tool %s missing from %v", want, names)
		}
	}

	// Due earlier today (UTC): in both "today" and "overdue", whatever the hour.
	now := time.Now().UTC()
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	earlier := dayStart.Add(now.Sub(dayStart) / 2).Truncate(time.Second)
	word := "mcp" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	late := mustTool(t, cs, "create_task", map[string]any{"title": "File taxes " + word, "due_date": earlier.Format(time.RFC3339),
		"priority": "high", "tags": []string{"admin"}})
	lateID := late["id"].(string)
	due := now.Add(48 * time.Hour).Truncate(time.Second)
	soon := mustTool(t, cs, "create_task", map[string]any{"title": "Call the plumber " + word, "due_date": due.Format(time.RFC3339),
		"reminders": []string{"1 hour"}})
	soonID := soon["id"].(string)

	if got := readResource(t, cs, "taskflow://tasks/today"); !slices.Contains(got, lateID) || slices.Contains(got, soonID) {
		t.Errorf("today = %v; want %s and not %s", got, lateID, soonID)
	}
	if got := readResource(t, cs, "taskflow://tasks/overdue"); !slices.Contains(got, lateID) || slices.Contains(got, soonID) {
		t.Errorf("overdue = %v; want %s and not %s", got, lateID, soonID)
	}
	found := mustTool(t, cs, "search_tasks", map[string]any{"query": word})
	if got := itemIDs(found["items"]); len(got) != 2 {
		t.Errorf("search %q found %v, want both tasks", word, got)
	}
	upcoming := mustTool(t, cs, "list_tasks", map[string]any{"view": "upcoming", "limit": 100})
	if got := itemIDs(upcoming["items"]); !slices.Contains(got, soonID) || slices.Contains(got, lateID) {
		t.Errorf("upcoming = %v", got)
	}

	upd := mustTool(t, cs, "update_task", map[string]any{"id": soonID, "title": "Call the plumber back " + word, "priority": "medium"})
	if upd["title"] != "Call the plumber back "+word || upd["priority"] != "medium" {
		t.Errorf("update_task gave %v", upd)
	}
	got := mustTool(t, cs, "get_task", map[string]any{"id": soonID})
	if rs, _ := got["reminder_status"].([]any); len(rs) == 0 {
		t.Errorf("get_task shows no reminders: %v", got)
	}
	if _, failed := tool(t, cs, "snooze_reminder", map[string]any{"id": soonID, "for": "10 minutes"}); failed != "" {
		t.Errorf("snooze_reminder: %s", failed)
	}
	if out := mustTool(t, cs, "complete_task", map[string]any{"id": lateID}); out["completed"] != true {
		t.Errorf("complete_task gave %v", out)
	}
	if _, failed := tool(t, cs, "update_task", map[string]any{"id": soonID, "due_date": "next tuesday"}); !strings.Contains(failed, "due_date") {
		t.Errorf("a bad due_date: %q; want a tool error naming due_date", failed)
	}

	series := mustTool(t, cs, "create_task", map[string]any{"title": "Stretch " + word, "due_date": due.Format(time.RFC3339),
		"recurrence_pattern": "FREQ=DAILY"})
	occ := mustTool(t, cs, "list_occurrences", map[string]any{"id": series["id"], "limit": 3})
	if items, _ := occ["items"].([]any); len(items) != 3 {
		t.Errorf("list_occurrences gave %v", occ)
	}

	eventually(t, 30*time.Second, "the history of the completed task", func() bool {
		h, failed := tool(t, cs, "task_history", map[string]any{"id": lateID})
		if failed != "" {
			return false
		}
		var types []string
		items, _ := h["items"].([]any)
		for _, it := range items {
			types = append(types, it.(map[string]any)["event_type"].(string))
		}
		return slices.Contains(types, "task.created") && slices.Contains(types, "task.completed")
	})

	// Another user's agent sees none of it.
	bob := mcpOverHTTP(t, e, e.as(t, "bob-"+uuid.NewString()), "")
	if _, failed := tool(t, bob, "get_task", map[string]any{"id": soonID}); !strings.Contains(failed, "404") {
		t.Errorf("bob's get_task of alice's task: %q, want a 404", failed)
	}
	if _, failed := tool(t, bob, "complete_task", map[string]any{"id": soonID}); !strings.Contains(failed, "404") {
		t.Errorf("bob's complete_task of alice's task: %q, want a 404", failed)
	}
	if out := mustTool(t, bob, "search_tasks", map[string]any{"query": word}); len(itemIDs(out["items"])) != 0 {
		t.Errorf("bob's search found %v", out["items"])
	}
	if _, failed := tool(t, bob, "task_history", map[string]any{"id": lateID}); failed == "" {
		t.Error("bob read alice's task history")
	}

	// No token, no MCP.
	resp, err := http.Post(e.api+"/api/v1/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("MCP without a token = %d, want 401", resp.StatusCode)
	}

	// The stdio server (`taskflow mcp`), as an agent's host starts it.
	cmd := exec.Command(filepath.Join(binDir, "taskflow"), "mcp")
	cmd.Env = append(os.Environ(), "TASKFLOW_TOKEN="+alice.token, "TASKFLOW_URL="+e.api,
		"TASKFLOW_AUDIT_URL="+e.stack.App("auditor").URL, "TASKFLOW_TIMEZONE=UTC")
	stdio, err := mcp.NewClient(&mcp.Implementation{Name: "e2e-stdio", Version: "1"}, nil).
		Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("start taskflow mcp: %v", err)
	}
	defer stdio.Close()
	if got := readResource(t, stdio, "taskflow://tasks/today"); slices.Contains(got, lateID) {
		// lateID is completed now: today lists open tasks only.
		t.Errorf("stdio today = %v still lists the completed %s", got, lateID)
	}
	// create_task from a sentence, read by TaskFlow's quick add.
	fromText := mustTool(t, stdio, "create_task", map[string]any{"text": "Renew passport " + word + " tomorrow at 10am, remind me 2 hours before #admin p1"})
	if fromText["title"] != "Renew passport "+word || fromText["priority"] != "high" || fromText["due_date"] == nil {
		t.Errorf("create_task from text gave %v", fromText)
	}
	if tags, _ := fromText["tags"].([]any); len(tags) != 1 || tags[0] != "admin" {
		t.Errorf("create_task from text: tags %v", fromText["tags"])
	}
	if _, failed := tool(t, stdio, "create_task", map[string]any{"text": "#only #tags"}); !strings.Contains(failed, "text") {
		t.Errorf("create_task from a text with no title: %q, want an error on text", failed)
	}
	out := mustTool(t, stdio, "search_tasks", map[string]any{"query": word, "include_completed": true})
	if got := itemIDs(out["items"]); !slices.Contains(got, lateID) || !slices.Contains(got, soonID) || !slices.Contains(got, fromText["id"].(string)) {
		t.Errorf("stdio search = %v", got)
	}
	h := mustTool(t, stdio, "task_history", map[string]any{"id": lateID})
	if items, _ := h["items"].([]any); len(items) == 0 {
		t.Errorf("stdio task_history is empty")
	}
}
