package recurrence_test

import (
	"strings"
	"testing"

	"github.com/taskflow/taskflow/recurrence"
)

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // a part of the error; "" means accepted
	}{
		{"Berlin", "Europe/Berlin", ""},
		{"New York", "America/New_York", ""},
		{"UTC", "UTC", ""},
		{"a fixed-offset zone", "Etc/GMT+5", ""},
		{"empty", "", "time zone is required"},
		{"Local", "Local", `time zone "Local" is not allowed`},
		{"unknown", "Mars/Olympus_Mons", `unknown time zone "Mars/Olympus_Mons"`},
		{"wrong case", "europe/berlin", "unknown time zone"},
		{"surrounding spaces", " Europe/Berlin", "unknown time zone"},
		{"a path", "../../etc/passwd", "unknown time zone"},
		{"an absolute path", "/etc/localtime", "unknown time zone"},
		{"too long", strings.Repeat("A", 65), "time zone name is 65 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loc, err := recurrence.LoadLocation(tt.in)
			if tt.want != "" {
				assertInvalid(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatalf("LoadLocation(%q): %v", tt.in, err)
			}
			if loc.String() != tt.in {
				t.Fatalf("LoadLocation(%q) = %v", tt.in, loc)
			}
		})
	}
}
