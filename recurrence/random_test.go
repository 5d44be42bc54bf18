package recurrence_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/taskflow/taskflow/recurrence"
)

// randomRule builds a random, often unusual, RRULE.
func randomRule(rng *rand.Rand) string {
	freqs := []string{"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
	days := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	parts := []string{"FREQ=" + freqs[rng.IntN(len(freqs))]}
	ints := func(n, lo, hi int, signed bool) string {
		var vs []string
		for range 1 + rng.IntN(n) {
			v := lo + rng.IntN(hi-lo+1)
			if signed && rng.IntN(3) == 0 {
				v = -v
			}
			vs = append(vs, fmt.Sprint(v))
		}
		return strings.Join(vs, ",")
	}
	add := func(p float64, key string, val func() string) {
		if rng.Float64() < p {
			parts = append(parts, key+"="+val())
		}
	}
	add(0.5, "INTERVAL", func() string {
		return fmt.Sprint([]int{1, 2, 3, 5, 7, 12, 24, 60, 61, 90, 168, 400, 3601}[rng.IntN(13)])
	})
	add(0.3, "BYMONTH", func() string { return ints(3, 1, 12, false) })
	add(0.1, "BYWEEKNO", func() string { return ints(2, 1, 53, true) })
	add(0.15, "BYYEARDAY", func() string { return ints(2, 1, 366, true) })
	add(0.3, "BYMONTHDAY", func() string { return ints(3, 1, 31, true) })
	add(0.35, "BYDAY", func() string {
		var vs []string
		numbered := rng.IntN(2) == 0
		for range 1 + rng.IntN(3) {
			v := days[rng.IntN(7)]
			if numbered {
				n := 1 + rng.IntN(5)
				if rng.IntN(10) == 0 {
					n = 1 + rng.IntN(53)
				}
				if rng.IntN(2) == 0 {
					n = -n
				}
				v = fmt.Sprint(n) + v
			}
			vs = append(vs, v)
		}
		return strings.Join(vs, ",")
	})
	add(0.3, "BYHOUR", func() string { return ints(3, 0, 23, false) })
	add(0.3, "BYMINUTE", func() string { return ints(3, 0, 59, false) })
	add(0.2, "BYSECOND", func() string { return ints(2, 0, 59, false) })
	add(0.2, "BYSETPOS", func() string { return ints(2, 1, 10, true) })
	add(0.1, "WKST", func() string { return days[rng.IntN(7)] })
	switch rng.IntN(6) {
	case 0:
		add(1, "COUNT", func() string { return fmt.Sprint(1 + rng.IntN(300)) })
	case 1:
		add(1, "UNTIL", func() string { return "20270301T000000Z" })
	}
	rng.Shuffle(len(parts)-1, func(i, j int) { parts[i+1], parts[j+1] = parts[j+1], parts[i+1] })
	return strings.Join(parts, ";")
}

// TestRandomRules expands random rules and checks the guarantees of every
// expansion; that a walk begun anywhere agrees with the walk from the
// start; and, in UTC (no DST, so nothing to place or drop), that the
// occurrences are exactly those of rrule-go expanding the rule directly:
// the windows near 9999, the rebasing and the split of day filters change
// nothing. Start years include 1999 and 2399, whose windows last one year.
func TestRandomRules(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	zones := []string{"UTC", "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia"}
	years := []int{1999, 2026, 2026, 2399, 2000, 1601}
	parsed := 0
	for range 1500 {
		pattern := randomRule(rng)
		loc := mustLoc(t, zones[rng.IntN(len(zones))])
		start := time.Date(years[rng.IntN(len(years))], time.Month(1+rng.IntN(12)), 1+rng.IntN(28),
			rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, loc)
		o := recurrence.Options{Start: start, Loc: loc}
		r, err := recurrence.Parse(pattern, o)
		if err != nil {
			continue
		}
		parsed++
		occ := r.Occurrences(start, 60)
		checkOccurrences(t, pattern, o, occ)
		for i := 0; i+1 < len(occ); i++ {
			at := occ[i].Add(time.Duration(rng.Int64N(int64(occ[i+1].Sub(occ[i])))))
			if next, ok := r.After(at); !ok || !next.Equal(occ[i+1]) {
				t.Fatalf("%q from %v: After(%v) = %v, %v; want %v", pattern, start, at, next, ok, occ[i+1])
			}
		}
		if loc == time.UTC {
			if want := direct(t, r.RRule(), start, len(occ)); !equalTimes(occ, want) {
				t.Fatalf("%q from %v:\n got %v\nwant %v", pattern, start, occ, want)
			}
		}
	}
	if parsed < 300 {
		t.Fatalf("only %d random rules parsed", parsed)
	}
}

// direct expands rule from start in UTC with rrule-go alone.
func direct(tb testing.TB, rule string, start time.Time, n int) []time.Time {
	tb.Helper()
	opt, err := rrule.StrToROption(rule)
	if err != nil {
		tb.Fatal(err)
	}
	opt.Dtstart = start
	rr, err := rrule.NewRRule(*opt)
	if err != nil {
		tb.Fatal(err)
	}
	out := []time.Time{}
	next := rr.Iterator()
	for len(out) < n {
		x, ok := next()
		if !ok {
			break
		}
		out = append(out, x.UTC())
	}
	return out
}

// TestRegressions replays rules the random tests once caught: a wrong
// length of the year for negative BYYEARDAY in the day-by-day search, and
// sub-daily rules that took up to a second to refuse or expand.
func TestRegressions(t *testing.T) {
	t.Parallel()
	apia := mustLoc(t, "Pacific/Apia")
	tests := []struct {
		pattern string
		start   time.Time
	}{
		{"FREQ=MINUTELY;BYYEARDAY=-4;INTERVAL=61", time.Date(2399, 12, 12, 2, 18, 8, 0, time.UTC)},
		{"FREQ=SECONDLY;INTERVAL=61;BYMONTHDAY=12;COUNT=214;BYMINUTE=3,48,14;BYSECOND=41;BYHOUR=18", time.Date(2026, 3, 10, 3, 36, 36, 0, apia)},
		{"FREQ=SECONDLY;BYHOUR=12,5;BYMONTH=12;BYDAY=TU,FR;BYMINUTE=50;INTERVAL=168", time.Date(2026, 2, 18, 9, 26, 51, 0, time.UTC)},
		{"FREQ=SECONDLY;BYMONTH=3,9;INTERVAL=61;BYHOUR=11,6;BYSECOND=55;COUNT=83;BYMINUTE=31;BYSETPOS=1,5", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"FREQ=MONTHLY;BYDAY=-2TU;COUNT=30;BYMONTHDAY=31,12,5", time.Date(2026, 2, 5, 9, 22, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			t.Parallel()
			o := recurrence.Options{Start: tt.start, Loc: tt.start.Location()}
			r, err := recurrence.Parse(tt.pattern, o)
			if err != nil {
				assertInvalid(t, err, "")
				return
			}
			occ := r.Occurrences(tt.start, 60)
			checkOccurrences(t, tt.pattern, o, occ)
			if tt.start.Location() == time.UTC {
				if want := direct(t, r.RRule(), tt.start, len(occ)); !equalTimes(occ, want) {
					t.Fatalf("got  %v\nwant %v", occ, want)
				}
			}
		})
	}
}
