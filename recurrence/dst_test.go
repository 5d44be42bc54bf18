package recurrence_test

import (
	"sort"
	"testing"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

// In 2026 America/New_York springs forward on 8 March (02:00 EST becomes
// 03:00 EDT, 07:00Z) and falls back on 1 November (02:00 EDT becomes 01:00
// EST, 06:00Z); Europe/Berlin on 29 March (02:00 CET becomes 03:00 CEST,
// 01:00Z) and 25 October (03:00 CEST becomes 02:00 CET, 01:00Z).

func TestDST(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name    string
		pattern string
		start   time.Time
		min     time.Duration
		want    []string
	}{
		{"New York daily 09:00 across spring forward", "daily:", time.Date(2026, 3, 6, 9, 0, 0, 0, ny), 0,
			[]string{"2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}},
		{"New York daily 09:00 across fall back", "daily:", time.Date(2026, 10, 31, 9, 0, 0, 0, ny), 0,
			[]string{"2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z"}},
		{"Berlin daily 09:00 across spring forward", "daily:", time.Date(2026, 3, 28, 9, 0, 0, 0, berlin), 0,
			[]string{"2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}},
		{"Berlin daily 09:00 across fall back", "daily:", time.Date(2026, 10, 24, 9, 0, 0, 0, berlin), 0,
			[]string{"2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z"}},
		{"Berlin monthly keeps the wall clock", "monthly:15", time.Date(2026, 2, 15, 9, 0, 0, 0, berlin), 0,
			[]string{"2026-02-15T08:00:00Z", "2026-03-15T08:00:00Z", "2026-04-15T07:00:00Z"}},
		{"New York weekly keeps the wall clock", "weekly:sun", time.Date(2026, 3, 1, 9, 0, 0, 0, ny), 0,
			[]string{"2026-03-01T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-15T13:00:00Z"}},
		{"New York daily, at least a day apart, keeps the 23-hour day", "daily:", time.Date(2026, 3, 7, 9, 0, 0, 0, ny), 24 * time.Hour,
			[]string{"2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}},

		// A wall-clock time that does not exist or exists twice is placed
		// as time.Date places it: Go looks up the offset in force at the
		// wall-clock reading taken as UTC. West of Greenwich a skipped
		// 02:30 becomes 01:30 standard time and an ambiguous time the first
		// (daylight) instance; east of it a skipped 02:30 becomes 03:30
		// summer time and an ambiguous time the second (standard) instance.
		{"New York 02:30 on the spring-forward day is 01:30 EST", "daily:", time.Date(2026, 3, 7, 2, 30, 0, 0, ny), 0,
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T06:30:00Z", "2026-03-09T06:30:00Z"}},
		{"New York 01:30 on the fall-back day is the first, EDT", "daily:", time.Date(2026, 10, 31, 1, 30, 0, 0, ny), 0,
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"Berlin 02:30 on the spring-forward day is 03:30 CEST", "daily:", time.Date(2026, 3, 28, 2, 30, 0, 0, berlin), 0,
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"Berlin 02:30 on the fall-back day is the second, CET", "daily:", time.Date(2026, 10, 24, 2, 30, 0, 0, berlin), 0,
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"}},

		// Hourly rules count wall-clock hours: the skipped hour yields
		// nothing new (its time.Date instant repeats one already given) and
		// the repeated hour occurs once, so one gap is two hours long.
		{"New York hourly across spring forward", "FREQ=HOURLY", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), 0,
			[]string{"2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
		{"New York hourly across fall back", "FREQ=HOURLY", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), 0,
			[]string{"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		{"Berlin hourly across spring forward", "FREQ=HOURLY", time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), 0,
			[]string{"2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"Berlin hourly across fall back", "FREQ=HOURLY", time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), 0,
			[]string{"2026-10-24T22:00:00Z", "2026-10-24T23:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
		{"Berlin every 7 minutes across spring forward", "FREQ=MINUTELY;INTERVAL=7", time.Date(2026, 3, 29, 1, 40, 0, 0, berlin), 0,
			[]string{"2026-03-29T00:40:00Z", "2026-03-29T00:47:00Z", "2026-03-29T00:54:00Z", "2026-03-29T01:01:00Z", "2026-03-29T01:08:00Z"}},

		// Sub-hourly steps can collide with the skipped hour: an occurrence
		// is kept only if it comes after the previous one by at least
		// MinInterval (less the shift, were the two on either side of it).
		// The 02:02 step lands on 01:02 EST, a minute after 01:01.
		{"New York every 61 minutes across spring forward", "FREQ=MINUTELY;INTERVAL=61", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), 0,
			[]string{"2026-03-08T05:00:00Z", "2026-03-08T06:01:00Z", "2026-03-08T06:02:00Z", "2026-03-08T07:03:00Z"}},
		{"New York every 61 minutes, at least an hour apart", "FREQ=MINUTELY;INTERVAL=61", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Hour,
			[]string{"2026-03-08T05:00:00Z", "2026-03-08T06:01:00Z", "2026-03-08T07:03:00Z", "2026-03-08T08:04:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: tt.start, Loc: tt.start.Location(), MinInterval: tt.min})
			assertTimes(t, r.Occurrences(tt.start, len(tt.want)), tt.want)
		})
	}
}

// TestDSTConsistency asks for the next occurrence from every few minutes
// around each 2026 transition, in zones with one-hour and half-hour DST,
// and compares with the list expanded from the start: a walk begun near a
// transition must agree with the walk from the start.
func TestDSTConsistency(t *testing.T) {
	t.Parallel()
	rules := []struct {
		pattern string
		min     time.Duration
	}{
		{"FREQ=MINUTELY;INTERVAL=7", 0}, {"FREQ=MINUTELY;INTERVAL=61", 0}, {"FREQ=MINUTELY;INTERVAL=61", time.Hour},
		{"FREQ=HOURLY;BYMINUTE=0,45", 0}, {"FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30", 0},
		{"FREQ=SECONDLY;INTERVAL=3601", time.Hour}, {"daily:", 24 * time.Hour},
	}
	for _, zone := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"} {
		loc := mustLoc(t, zone)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		end := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
		var transitions []time.Time
		for x := start; x.Before(end); x = x.Add(time.Hour) {
			_, a := x.Zone()
			if _, b := x.Add(time.Hour).Zone(); a != b {
				transitions = append(transitions, x)
			}
		}
		for _, rule := range rules {
			t.Run(zone+" "+rule.pattern+" "+rule.min.String(), func(t *testing.T) {
				t.Parallel()
				o := recurrence.Options{Start: start, Loc: loc, End: &end, MinInterval: rule.min}
				r := mustParse(t, rule.pattern, o)
				all := r.Occurrences(start, 1_000_000)
				checkOccurrences(t, rule.pattern, o, all)
				for _, tr := range transitions {
					for d := -6 * time.Hour; d <= 6*time.Hour; d += 13 * time.Minute {
						at := tr.Add(d)
						i := sort.Search(len(all), func(i int) bool { return all[i].After(at) })
						if i == len(all) {
							continue
						}
						if got, ok := r.After(at); !ok || !got.Equal(all[i]) {
							t.Fatalf("After(%v) = %v, want %v", at.In(loc), got.In(loc), all[i].In(loc))
						}
					}
				}
			})
		}
	}
}
