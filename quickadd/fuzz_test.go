package quickadd_test

import (
	"testing"

	"github.com/taskflow/taskflow/quickadd"
)

// FuzzParse: no input makes Parse panic, and every Result keeps its
// invariants (spans into the text, fields the task and recurrence packages
// accept) or the error is the "text" validation error.
func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(c.text)
	}
	for _, c := range notYet {
		f.Add(c.text)
	}
	for _, s := range []string{"", " ", "\xff\xfe", "every", "at", "remind me", "#", "!", "in 99999999999 days",
		"every 0 days", "until", "on the 31st of every february", "9 a.m.. . .", "(((tomorrow)))", "#ÄÖÜ #İstanbul"} {
		f.Add(s)
	}
	cl := clocks(f)["wed"]
	f.Fuzz(func(t *testing.T, text string) {
		res, err := quickadd.Parse(text, cl.now, cl.loc)
		if err != nil {
			if !textError(err) {
				t.Fatalf("Parse(%q): %v is not a validation error for text", text, err)
			}
			return
		}
		checkResult(t, text, res)
	})
}
