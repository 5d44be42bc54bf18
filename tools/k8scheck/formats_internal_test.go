package k8scheck

import (
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Formats the API server does not check are cleared, nested ones too;
// those it checks stay.
func TestStripUnsupportedFormats(t *testing.T) {
	t.Parallel()
	str := func(format string) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}, Format: format}}
	}
	item := str("int-or-string")
	s := &spec.Schema{SchemaProps: spec.SchemaProps{
		Type: spec.StringOrArray{"object"},
		Properties: map[string]spec.Schema{
			"when":  str("date-time"),
			"name":  str("k8s-short-name"),
			"other": str("int-or-string"),
			"count": {SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}, Format: "int32"}},
			"ratio": {SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"number"}, Format: "decimal"}},
			"list":  {SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"array"}, Items: &spec.SchemaOrArray{Schema: &item}}},
		},
	}}
	stripUnsupportedFormats(s)
	for name, want := range map[string]string{"when": "date-time", "name": "k8s-short-name", "other": "", "count": "int32", "ratio": ""} {
		if got := s.Properties[name].Format; got != want {
			t.Errorf("%s: format %q, want %q", name, got, want)
		}
	}
	if got := s.Properties["list"].Items.Schema.Format; got != "" {
		t.Errorf("array item: format %q, want it cleared", got)
	}
}
