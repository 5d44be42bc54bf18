package recurrence_test

import (
	"testing"
	"time"
	_ "time/tzdata" // zone data even where the system has none

	"github.com/taskflow/taskflow/recurrence"
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := recurrence.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func mustParse(tb testing.TB, pattern string, o recurrence.Options) *recurrence.Rule {
	tb.Helper()
	r, err := recurrence.Parse(pattern, o)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", pattern, err)
	}
	return r
}
