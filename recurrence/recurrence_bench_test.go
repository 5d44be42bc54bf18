package recurrence_test

import (
	"testing"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

var benchPatterns = []struct{ name, pattern string }{
	{"shorthand", "weekly:mon,wed,fri"},
	{"last weekday", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
	{"hourly on weekdays", "FREQ=HOURLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYMINUTE=0"},
	{"29 February", "yearly:02-29"},
}

func benchOptions(b *testing.B) recurrence.Options {
	loc := mustLoc(b, "Europe/Berlin")
	return recurrence.Options{Start: time.Date(2026, 1, 15, 9, 0, 0, 0, loc), Loc: loc}
}

func BenchmarkParse(b *testing.B) {
	o := benchOptions(b)
	for _, p := range benchPatterns {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := recurrence.Parse(p.pattern, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseNever measures refusing rules that never occur.
func BenchmarkParseNever(b *testing.B) {
	o := benchOptions(b)
	for _, pattern := range []string{
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",            // the day probe
		"FREQ=DAILY;INTERVAL=7;BYDAY=MO",                 // a search to the horizon
		"FREQ=HOURLY;INTERVAL=168;BYDAY=MO",              // the cap on rejected days
		"FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", // a search to the horizon
	} {
		b.Run(pattern, func(b *testing.B) {
			for b.Loop() {
				if _, err := recurrence.Parse(pattern, o); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkOccurrences expands 1,000 occurrences.
func BenchmarkOccurrences(b *testing.B) {
	o := benchOptions(b)
	for _, p := range benchPatterns {
		r := mustParse(b, p.pattern, o)
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if n := len(r.Occurrences(o.Start, 1000)); n == 0 {
					b.Fatalf("%d occurrences", n)
				}
			}
		})
	}
}

// BenchmarkAfter finds the next occurrence ten years into a series.
func BenchmarkAfter(b *testing.B) {
	o := benchOptions(b)
	at := o.Start.AddDate(10, 0, 0)
	for _, p := range benchPatterns {
		r := mustParse(b, p.pattern, o)
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := r.After(at); !ok {
					b.Fatal("none")
				}
			}
		})
	}
}

// BenchmarkMissed counts the occurrences of a year of a minutely rule
// (over 100,000, so up to MaxMissed).
func BenchmarkMissed(b *testing.B) {
	o := benchOptions(b)
	r := mustParse(b, "FREQ=MINUTELY;INTERVAL=5", o)
	for b.Loop() {
		if _, n, _ := r.Missed(o.Start, o.Start.AddDate(1, 0, 0)); n != 105120 && n != recurrence.MaxMissed {
			b.Fatalf("%d missed", n)
		}
	}
}
