package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// row is one figure of the final table.
type row struct {
	ID        string // P1, P1r, ...
	Figure    string
	Target    string
	Measured  string
	Reference string // the bare-Dapr figure it is compared with, measured in this run
	Ratio     string
	Met       *bool // nil: no pass/fail target
	Values    map[string]float64
}

// report collects the rows as phases finish. Safe for concurrent use.
type report struct {
	mu   sync.Mutex
	rows []row
	refs map[string]float64 // reference figures by name, for later rows
}

func (r *report) add(x row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
}

func (r *report) setRef(name string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs == nil {
		r.refs = map[string]float64{}
	}
	r.refs[name] = v
}

func (r *report) ref(name string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.refs[name]
	return v, ok
}

func (r *report) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\n| | figure | target | measured | bare-Dapr reference (same run) | ratio | met |\n|---|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		met := ""
		if x.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*x.Met]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", x.ID, x.Figure, x.Target, x.Measured, x.Reference, x.Ratio, met)
	}
}

func (r *report) json() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]any{}
	for _, x := range r.rows {
		vals := map[string]any{}
		for k, v := range x.Values {
			vals[k] = v
		}
		if x.Met != nil {
			vals["met"] = *x.Met
		}
		out[x.ID] = vals
	}
	return out
}

func (r *report) misses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, x := range r.rows {
		if x.Met != nil && !*x.Met {
			out = append(out, x.ID+" ("+strings.TrimSpace(x.Target)+")")
		}
	}
	return out
}

func boolp(b bool) *bool { return &b }

// commas formats n with thousands separators.
func commas(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
