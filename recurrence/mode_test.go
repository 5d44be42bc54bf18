package recurrence_test

import (
	"testing"

	"github.com/taskflow/taskflow/recurrence"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want recurrence.Mode
		err  string
	}{
		{"", recurrence.Schedule, ""},
		{"schedule", recurrence.Schedule, ""},
		{"from_completion", recurrence.FromCompletion, ""},
		{"Schedule", "", `mode must be "schedule" or "from_completion" (got "Schedule")`},
		{"after_completion", "", "mode must be"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := recurrence.ParseMode(tt.in)
			if tt.err != "" {
				assertInvalid(t, err, tt.err)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
