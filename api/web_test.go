package api

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestWebAppBundles: the web app's sources compile into one script, and
// the page points at the bundle and stylesheet served with it.
func TestWebAppBundles(t *testing.T) {
	t.Parallel()
	w, err := buildWeb(WebConfig{NotificationsURL: "http://localhost:8081", AuditURL: "http://localhost:8082/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.js) < 10_000 || !strings.Contains(string(w.page), w.jsPath) || !strings.Contains(string(w.page), w.cssPath) {
		t.Fatalf("bundle of %d bytes; page %s", len(w.js), w.page)
	}
	if !strings.Contains(w.csp, "connect-src 'self' http://localhost:8081 http://localhost:8082;") || strings.Contains(w.csp, "unsafe") {
		t.Fatalf("CSP %q", w.csp)
	}
}

var (
	v1Call   = regexp.MustCompile(`"(GET|POST|PATCH|PUT|DELETE)",\s*(?:config\.\w+\s*\+\s*)?v1\s*\+\s*([^\n]*)`)
	literal  = regexp.MustCompile(`^"([^"]*)"`)
	ternary  = regexp.MustCompile(`^\([^?()]+\?\s*"([^"]*)"\s*:\s*"([^"]*)"\s*\)`)
	nameExpr = regexp.MustCompile(`^[\w.]+(\([^()]*\))?`)
	param    = regexp.MustCompile(`\{\w+\}`)
)

// paths expands the concatenation after `v1 +` into the paths it can
// make; dynamic parts become {}.
func paths(expr string) []string {
	out := []string{""}
	rest := strings.TrimSpace(expr)
	for rest != "" {
		var alts []string
		switch {
		case literal.MatchString(rest):
			m := literal.FindStringSubmatch(rest)
			alts, rest = []string{m[1]}, rest[len(m[0]):]
		case ternary.MatchString(rest):
			m := ternary.FindStringSubmatch(rest)
			alts, rest = []string{m[1], m[2]}, rest[len(m[0]):]
		case nameExpr.MatchString(rest):
			m := nameExpr.FindString(rest)
			alts, rest = []string{"{}"}, rest[len(m):]
		default:
			return nil
		}
		var next []string
		for _, o := range out {
			for _, a := range alts {
				next = append(next, o+a)
			}
		}
		out = next
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, "+") {
			break
		}
		rest = strings.TrimSpace(rest[1:])
	}
	for i, p := range out {
		if q := strings.IndexByte(p, '?'); q >= 0 {
			p = p[:q]
		}
		out[i] = "/api/v1" + p
	}
	return out
}

// TestWebAppUsesOnlyTheContract: every call the web app's API client
// makes is an operation of the OpenAPI document.
func TestWebAppUsesOnlyTheContract(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("web/src/api.ts")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+param.ReplaceAllString(path, "{}")] = true
		}
	}
	calls := v1Call.FindAllStringSubmatch(string(src), -1)
	var used []string
	for _, m := range calls {
		ps := paths(m[2])
		if ps == nil {
			t.Errorf("cannot read the path of %q", m[0])
		}
		for _, p := range ps {
			used = append(used, m[1]+" "+p)
		}
	}
	if len(used) < 15 {
		t.Fatalf("found only %d calls in api.ts: %v", len(used), used)
	}
	for _, op := range used {
		if !documented[op] {
			t.Errorf("the web app calls %s, which the OpenAPI document does not have", op)
		}
	}
	// The stream is fetched, not called: check its path as well.
	if !slices.Contains([]string{"GET /api/v1/notifications/stream"}, "GET "+paths(`"/notifications/stream"`)[0]) ||
		!documented["GET /api/v1/notifications/stream"] || !strings.Contains(string(src), `v1 + "/notifications/stream"`) {
		t.Error("the notification stream is not where the document says")
	}
}
