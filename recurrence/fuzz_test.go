package recurrence_test

import (
	"errors"
	"hash/fnv"
	"testing"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

// fuzzSeries picks the series a fuzzed pattern is parsed for, from the
// pattern itself so that a failing input replays the same way.
func fuzzSeries(tb testing.TB, pattern string) recurrence.Options {
	tb.Helper()
	h := fnv.New32a()
	h.Write([]byte(pattern))
	end := time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)
	switch h.Sum32() % 4 {
	case 0:
		return recurrence.Options{Start: time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)}
	case 1:
		loc := mustLoc(tb, "America/New_York")
		return recurrence.Options{Start: time.Date(2026, 3, 7, 23, 30, 0, 0, loc), Loc: loc}
	case 2:
		loc := mustLoc(tb, "Europe/Berlin")
		return recurrence.Options{Start: time.Date(2026, 10, 24, 2, 30, 15, 0, loc), Loc: loc, End: &end}
	default:
		loc := mustLoc(tb, "Australia/Lord_Howe")
		return recurrence.Options{Start: time.Date(2028, 2, 29, 1, 45, 0, 0, loc), Loc: loc, MinInterval: time.Hour}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"daily:", "weekly:mon,wed,fri", "weekly:", "weekdays:", "monthly:15", "monthly:1,15", "monthly:last",
		"yearly:03-14", "yearly:02-29", "weekly/2:mon", "daily/3:", "monthly/6:last", "weekly:mnday",
		"FREQ=MONTHLY;BYMONTHDAY=-1", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=MONTHLY;BYDAY=2MO", "FREQ=MONTHLY;BYDAY=-1FR",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4", "FREQ=MINUTELY;BYSECOND=0,30",
		"FREQ=HOURLY;INTERVAL=6;BYHOUR=5", "FREQ=SECONDLY;INTERVAL=3601", "FREQ=MINUTELY;INTERVAL=7",
		"FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO;WKST=SU", "FREQ=YEARLY;BYYEARDAY=-1,366", "FREQ=DAILY;COUNT=5",
		"FREQ=DAILY;UNTIL=20260301T000000Z", "FREQ=DAILY;UNTIL=20261231", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
		"FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30", "FREQ=YEARLY;BYDAY=53MO",
		"FREQ=MONTHLY;BYDAY=5SU;BYSETPOS=1", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30", "DTSTART:20260101T000000Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		o := fuzzSeries(t, pattern)
		began := time.Now()
		r, err := recurrence.Parse(pattern, o)
		if took := time.Since(began); took > 2*time.Second {
			t.Fatalf("Parse(%q) took %v", pattern, took)
		}
		if err != nil {
			if !errors.Is(err, recurrence.ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not match ErrInvalid", pattern, err)
			}
			return
		}
		occ := r.Occurrences(o.Start, 50)
		checkOccurrences(t, pattern, o, occ)
		if first, ok := r.First(); !ok || len(occ) == 0 || !first.Equal(occ[0]) {
			t.Fatalf("%q: First() = %v, %v; Occurrences start with %v", pattern, first, ok, occ)
		}
		for i := 0; i+1 < len(occ); i += 7 {
			if next, ok := r.After(occ[i]); !ok || !next.Equal(occ[i+1]) {
				t.Fatalf("%q: After(%v) = %v, %v; want %v", pattern, occ[i], next, ok, occ[i+1])
			}
		}
		again, err := recurrence.Parse(r.RRule(), o)
		if err != nil {
			t.Fatalf("%q: its RRULE %q does not parse: %v", pattern, r.RRule(), err)
		}
		if again.RRule() != r.RRule() {
			t.Fatalf("%q: RRULE %q parses as %q", pattern, r.RRule(), again.RRule())
		}
		if occ2 := again.Occurrences(o.Start, 50); !equalTimes(occ, occ2) {
			t.Fatalf("%q: RRULE %q expands differently", pattern, r.RRule())
		}
	})
}

// checkOccurrences asserts what every expansion guarantees: UTC, strictly
// increasing, within [Start, End], and spaced by MinInterval less any
// spring-forward shift between two occurrences.
func checkOccurrences(tb testing.TB, pattern string, o recurrence.Options, occ []time.Time) {
	tb.Helper()
	loc, min := o.Loc, o.MinInterval
	if loc == nil {
		loc = time.UTC
	}
	if min == 0 {
		min = recurrence.DefaultMinInterval
	}
	start := o.Start.Truncate(time.Second)
	for i, x := range occ {
		switch {
		case x.Location() != time.UTC:
			tb.Fatalf("%q: occurrence %v is not in UTC", pattern, x)
		case x.Before(start):
			tb.Fatalf("%q: occurrence %v before the start %v", pattern, x, start)
		case o.End != nil && x.After(*o.End):
			tb.Fatalf("%q: occurrence %v after the end %v", pattern, x, *o.End)
		}
		if i == 0 {
			continue
		}
		prev := occ[i-1]
		if !x.After(prev) {
			tb.Fatalf("%q: occurrences not increasing: %v then %v", pattern, prev, x)
		}
		gap := x.Sub(prev)
		_, ox := x.In(loc).Zone()
		_, op := prev.In(loc).Zone()
		if ox > op {
			gap += time.Duration(ox-op) * time.Second
		}
		if gap < min {
			tb.Fatalf("%q: occurrences %v and %v closer than %v", pattern, prev, x, min)
		}
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
