package auth_test

import (
	"testing"

	"github.com/taskflow/taskflow/auth"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   string
		wantOK bool
	}{
		{name: "canonical", header: "Bearer abc.def.ghi", want: "abc.def.ghi", wantOK: true},
		{name: "lower case scheme", header: "bearer abc", want: "abc", wantOK: true},
		{name: "upper case scheme", header: "BEARER abc", want: "abc", wantOK: true},
		{name: "mixed case scheme", header: "bEaReR abc", want: "abc", wantOK: true},
		{name: "surrounding spaces", header: "  Bearer   abc  ", want: "abc", wantOK: true},
		{name: "tab separator", header: "Bearer\tabc", want: "abc", wantOK: true},
		{name: "empty", header: ""},
		{name: "spaces only", header: "   "},
		{name: "scheme only", header: "Bearer"},
		{name: "scheme and spaces", header: "Bearer    "},
		{name: "no separator", header: "Bearerabc"},
		{name: "basic scheme", header: "Basic YWxpY2U6c2VjcmV0"},
		{name: "token only", header: "abc.def.ghi"},
		{name: "two tokens", header: "Bearer abc def"},
		{name: "non-ASCII prefix", header: "Béarer abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := auth.BearerToken(tt.header)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic y", "", "Bearer", "BEARER\t\tz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, ok := auth.BearerToken(header)
		if ok == (got == "") {
			t.Fatalf("BearerToken(%q) = %q, %v: ok must mean a non-empty token", header, got, ok)
		}
	})
}
