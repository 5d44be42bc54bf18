package api_test

import (
	"strings"
	"testing"
)

// TestQueryMustBeText: a NUL or invalid UTF-8 in any query parameter is a
// 400 naming it (PostgreSQL cannot hold a NUL in text: it was a 500).
func TestQueryMustBeText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for path, field := range map[string]string{
		"/api/v1/tasks?tag=%00":             "tag",
		"/api/v1/tasks?q=abc%00def":         "q",
		"/api/v1/tasks?q=%ff%fe":            "q",
		"/api/v1/tasks/counts?timezone=%00": "timezone",
	} {
		r := h.do(t, "alice", "GET", path, nil)
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"`+field+`"`) {
			t.Errorf("GET %s = %d %s, want 400 naming %s", path, r.status, r.body, field)
		}
	}
}
