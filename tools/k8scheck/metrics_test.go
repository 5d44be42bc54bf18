package k8scheck_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/taskflow/taskflow/tools/k8scheck"
	"sigs.k8s.io/yaml"
)

// pendingMetrics are used by the dashboard and the alert rules while the
// apps' code that registers them is still being written. Each must be
// registered by the time it leaves this list; the test fails on a name that
// is registered and still listed, so the list empties as the code lands.
var pendingMetrics = []string{}

var metricName = regexp.MustCompile(`\b(?:taskflow|dapr)_[a-z0-9_]+\b`)

// TestMonitoringMetricsExist: every metric the dashboard and the alert rules
// query is registered by the TaskFlow code (a string literal in a non-test Go
// file of the main module) or by daprd (its pkg/diagnostics measures), or is
// listed as pending.
func TestMonitoringMetricsExist(t *testing.T) {
	t.Parallel()
	used := map[string][]string{} // metric -> where
	for _, e := range dashboardExprs(t) {
		for _, m := range metricName.FindAllString(e, -1) {
			used[m] = append(used[m], "dashboard")
		}
	}
	for _, e := range ruleExprs(t) {
		for _, m := range metricName.FindAllString(e, -1) {
			used[m] = append(used[m], "PrometheusRule")
		}
	}
	if len(used) == 0 {
		t.Fatal("found no metric names in the dashboard or the rules")
	}
	ours, dapr := taskflowMetrics(t), daprMetrics(t)
	for m, where := range used {
		base := m
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(m, suffix); ok && (ours[b] || dapr[b] || slices.Contains(pendingMetrics, b)) {
				base = b
			}
		}
		switch {
		case strings.HasPrefix(base, "dapr_"):
			if !dapr[base] {
				t.Errorf("%s (%v): daprd 1.18 has no such metric", m, slices.Compact(where))
			}
		case ours[base] && slices.Contains(pendingMetrics, base):
			t.Errorf("%s is registered now: remove it from pendingMetrics", base)
		case !ours[base] && !slices.Contains(pendingMetrics, base):
			t.Errorf("%s (%v): no Go code of TaskFlow registers it", m, slices.Compact(where))
		}
	}
	for _, p := range pendingMetrics {
		if _, ok := used[p]; !ok && !slices.ContainsFunc(keys(used), func(u string) bool { return strings.HasPrefix(u, p+"_") }) {
			t.Errorf("pendingMetrics lists %s, which nothing uses", p)
		}
	}
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDashboard: valid JSON, unique panel ids, every query on the
// datasource variable.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: query %q on datasource %q, want an expression on ${datasource}", p.Title, tg.Expr, tg.Datasource.UID)
			}
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced brackets in %q", p.Title, tg.Expr)
			}
		}
	}
}

type dashboard struct {
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr       string `json:"expr"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(tb testing.TB) dashboard {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "k8s", "monitoring", "dashboards", "taskflow.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		tb.Fatalf("dashboard: %v", err)
	}
	return d
}

func dashboardExprs(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, p := range readDashboard(tb).Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

func ruleExprs(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "k8s", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := k8scheck.ParseYAML("prometheusrule.yaml", data)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		var pr struct {
			Spec struct {
				Groups []struct {
					Rules []struct {
						Expr        string            `json:"expr"`
						Annotations map[string]string `json:"annotations"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(o.JSON, &pr); err != nil {
			tb.Fatal(err)
		}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				out = append(out, r.Expr)
				for _, a := range r.Annotations {
					out = append(out, a) // descriptions name metrics to look at
				}
			}
		}
	}
	return out
}

// taskflowMetrics are the taskflow_* string literals in the main module's
// non-test Go files (metric names are literals in prometheus.*Opts).
func taskflowMetrics(tb testing.TB) map[string]bool {
	tb.Helper()
	out := map[string]bool{}
	root, _ := filepath.Abs(repoRoot)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if name := e.Name(); p != root && (name == "tools" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir // other modules, and what is not code
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && metricName.MatchString(s) && metricName.FindString(s) == s {
					out[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if !out["taskflow_http_request_duration_seconds"] {
		tb.Fatalf("the scan found no taskflow_http_request_duration_seconds (found %d names): is it broken?", len(out))
	}
	return out
}

var daprMeasure = regexp.MustCompile(`"((?:component|http|grpc\.io|runtime|resiliency|error_code|workflow)/[a-z0-9_./]+)"`)

// daprMetrics are the Prometheus names of daprd's measures in the Dapr
// module this module requires (the release the sidecars run): "dapr_" and
// the measure name with / and . as _.
func daprMetrics(tb testing.TB) map[string]bool {
	tb.Helper()
	// The runtime TaskFlow runs is the one tools/dapr builds.
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/dapr/dapr")
	cmd.Dir = filepath.Join(repoRoot, "tools", "dapr")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go mod download github.com/dapr/dapr in tools/dapr: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		tb.Fatalf("go mod download -json: %q: %v", out, err)
	}
	files, _ := filepath.Glob(filepath.Join(mod.Dir, "pkg", "diagnostics", "*.go"))
	found := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range daprMeasure.FindAllStringSubmatch(string(data), -1) {
			found["dapr_"+strings.NewReplacer("/", "_", ".", "_").Replace(m[1])] = true
		}
	}
	if !found["dapr_http_server_request_count"] {
		tb.Fatalf("found no dapr_http_server_request_count among %d Dapr measures: is the scan broken?", len(found))
	}
	return found
}
