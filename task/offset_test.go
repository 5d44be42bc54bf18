package task_test

import (
	"testing"
	"time"

	"github.com/taskflow/taskflow/task"
)

func TestParseOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1 hour", time.Hour, true},
		{"15 minutes", 15 * time.Minute, true},
		{"2 days", 48 * time.Hour, true},
		{"1 week", 7 * 24 * time.Hour, true},
		{"1 day 2 hours", 26 * time.Hour, true},
		{"1 hour and 30 minutes", 90 * time.Minute, true},
		{"30 mins", 30 * time.Minute, true},
		{"2hrs", 2 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"0s", 0, true},
		{"PT30M", 30 * time.Minute, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT2H", 26 * time.Hour, true},
		{"pt45s", 45 * time.Second, true},
		{"P2W", 14 * 24 * time.Hour, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-5m", 0, false},
		{"P1M", 0, false},
		{"P1Y", 0, false},
		{"PT", 0, false},
		{"P", 0, false},
		{"1", 0, false},
		{"hour", 0, false},
		{"400 days", 0, false},
		{"P1H", 0, false},
		{"PT1D", 0, false},
		{"9999999 hours", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := task.ParseOffset(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseOffset(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Fatalf("ParseOffset(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"1 hour", "PT30M", "90m", "P1DT2H", "1 day and 3 hours", "P", "-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := task.ParseOffset(s)
		if err == nil && (d < 0 || d > task.MaxOffset) {
			t.Fatalf("ParseOffset(%q) = %v outside [0, MaxOffset]", s, d)
		}
	})
}
