package recurrence_test

import (
	"sync"
	"testing"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

func utc(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func TestExpansion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		start   string // default thursday
		want    []string
	}{
		{"secondly", "FREQ=SECONDLY;INTERVAL=75", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T09:01:15Z", "2026-01-15T09:02:30Z", "2026-01-15T09:03:45Z"}},
		{"secondly on the half hour", "FREQ=SECONDLY;INTERVAL=60;BYMINUTE=0,30;BYSECOND=0", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T09:30:00Z", "2026-01-15T10:00:00Z"}},
		{"minutely", "FREQ=MINUTELY;INTERVAL=15", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T09:15:00Z", "2026-01-15T09:30:00Z"}},
		{"minutely in two hours a day", "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T09:20:00Z", "2026-01-15T09:40:00Z", "2026-01-15T10:00:00Z",
				"2026-01-15T10:20:00Z", "2026-01-15T10:40:00Z", "2026-01-16T09:00:00Z"}},
		{"minutely twice a day", "FREQ=MINUTELY;BYHOUR=9;BYMINUTE=0,59", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T09:59:00Z", "2026-01-16T09:00:00Z"}},
		{"hourly", "FREQ=HOURLY;INTERVAL=8", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-15T17:00:00Z", "2026-01-16T01:00:00Z", "2026-01-16T09:00:00Z"}},
		{"hourly at half past", "FREQ=HOURLY;BYHOUR=9,12;BYMINUTE=30", "",
			[]string{"2026-01-15T09:30:00Z", "2026-01-15T12:30:00Z", "2026-01-16T09:30:00Z"}},
		{"hourly at weekends, steps not dividing a day", "FREQ=HOURLY;INTERVAL=5;BYDAY=SA,SU", "",
			[]string{"2026-01-17T01:00:00Z", "2026-01-17T06:00:00Z", "2026-01-17T11:00:00Z", "2026-01-17T16:00:00Z",
				"2026-01-17T21:00:00Z", "2026-01-18T02:00:00Z"}},
		{"hourly on the 29th of February", "FREQ=HOURLY;INTERVAL=6;BYMONTH=2;BYMONTHDAY=29", "",
			[]string{"2028-02-29T03:00:00Z", "2028-02-29T09:00:00Z", "2028-02-29T15:00:00Z", "2028-02-29T21:00:00Z",
				"2032-02-29T03:00:00Z"}},
		{"daily at two times", "FREQ=DAILY;BYHOUR=8,18;BYMINUTE=15", "",
			[]string{"2026-01-15T18:15:00Z", "2026-01-16T08:15:00Z", "2026-01-16T18:15:00Z"}},
		{"weekly at another time", "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=7", "",
			[]string{"2026-01-20T07:00:00Z", "2026-01-22T07:00:00Z", "2026-01-27T07:00:00Z"}},
		{"last weekday of the month", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "",
			[]string{"2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z", "2026-03-31T09:00:00Z", "2026-04-30T09:00:00Z", "2026-05-29T09:00:00Z"}},
		{"first and last weekday", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1", "",
			[]string{"2026-01-30T09:00:00Z", "2026-02-02T09:00:00Z", "2026-02-27T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-31T09:00:00Z"}},
		{"second Monday", "FREQ=MONTHLY;BYDAY=2MO", "",
			[]string{"2026-02-09T09:00:00Z", "2026-03-09T09:00:00Z", "2026-04-13T09:00:00Z"}},
		{"last Friday", "FREQ=MONTHLY;BYDAY=-1FR", "",
			[]string{"2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z", "2026-03-27T09:00:00Z"}},
		{"first and last Monday", "FREQ=MONTHLY;BYDAY=1MO,-1MO", "",
			[]string{"2026-01-26T09:00:00Z", "2026-02-02T09:00:00Z", "2026-02-23T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-30T09:00:00Z"}},
		{"fourth Thursday of November", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "",
			[]string{"2026-11-26T09:00:00Z", "2027-11-25T09:00:00Z", "2028-11-23T09:00:00Z"}},
		{"20th Monday of the year", "FREQ=YEARLY;BYDAY=20MO", "",
			[]string{"2026-05-18T09:00:00Z", "2027-05-17T09:00:00Z"}},
		{"100th day of the year", "FREQ=YEARLY;BYYEARDAY=100", "",
			[]string{"2026-04-10T09:00:00Z", "2027-04-10T09:00:00Z", "2028-04-09T09:00:00Z"}},
		{"last day of the year", "FREQ=YEARLY;BYYEARDAY=-1", "",
			[]string{"2026-12-31T09:00:00Z", "2027-12-31T09:00:00Z"}},
		{"Monday of ISO week 20", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "",
			[]string{"2026-05-11T09:00:00Z", "2027-05-17T09:00:00Z"}},
		{"the 31st skips shorter months", "FREQ=MONTHLY;BYMONTHDAY=31", "2026-01-01T09:00:00Z",
			[]string{"2026-01-31T09:00:00Z", "2026-03-31T09:00:00Z", "2026-05-31T09:00:00Z", "2026-07-31T09:00:00Z",
				"2026-08-31T09:00:00Z", "2026-10-31T09:00:00Z", "2026-12-31T09:00:00Z", "2027-01-31T09:00:00Z"}},
		{"monthly on a 31st start keeps the 31st", "monthly:", "2026-01-31T09:00:00Z",
			[]string{"2026-01-31T09:00:00Z", "2026-03-31T09:00:00Z"}},
		{"last day of every month of a leap year", "monthly:last", "2028-01-01T09:00:00Z",
			[]string{"2028-01-31T09:00:00Z", "2028-02-29T09:00:00Z", "2028-03-31T09:00:00Z", "2028-04-30T09:00:00Z",
				"2028-05-31T09:00:00Z", "2028-06-30T09:00:00Z", "2028-07-31T09:00:00Z", "2028-08-31T09:00:00Z",
				"2028-09-30T09:00:00Z", "2028-10-31T09:00:00Z", "2028-11-30T09:00:00Z", "2028-12-31T09:00:00Z"}},
		{"29 February only in leap years", "yearly:02-29", "2027-01-01T09:00:00Z",
			[]string{"2028-02-29T09:00:00Z", "2032-02-29T09:00:00Z", "2036-02-29T09:00:00Z"}},
		{"29 February on a Monday", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", "",
			[]string{"2044-02-29T09:00:00Z", "2072-02-29T09:00:00Z", "2112-02-29T09:00:00Z"}},
		{"start counts only when it matches", "FREQ=WEEKLY;BYDAY=MO;COUNT=3", "",
			[]string{"2026-01-19T09:00:00Z", "2026-01-26T09:00:00Z", "2026-02-02T09:00:00Z"}},
		{"COUNT counts the start", "FREQ=DAILY;COUNT=3", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z", "2026-01-17T09:00:00Z"}},
		{"COUNT with BYSETPOS", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=2", "",
			[]string{"2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z"}},
		{"UNTIL is inclusive", "FREQ=DAILY;UNTIL=20260118T090000Z", "",
			[]string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z", "2026-01-17T09:00:00Z", "2026-01-18T09:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := thursday
			if tt.start != "" {
				start = utc(t, tt.start)
			}
			r := mustParse(t, tt.pattern, recurrence.Options{Start: start})
			got := r.Occurrences(start, len(tt.want))
			assertTimes(t, got, tt.want)
			if first, ok := r.First(); !ok || !first.Equal(got[0]) {
				t.Errorf("First() = %v, %v; want %v", first, ok, got[0])
			}
			for i := 0; i+1 < len(got); i++ {
				if next, ok := r.After(got[i]); !ok || !next.Equal(got[i+1]) {
					t.Errorf("After(%v) = %v, %v; want %v", got[i], next, ok, got[i+1])
				}
			}
		})
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, berlin) // 08:00Z
	at := func(day int) time.Time { return time.Date(2026, 1, day, 9, 0, 0, 0, berlin) }
	ptr := func(t time.Time) *time.Time { return &t }
	tests := []struct {
		name    string
		pattern string
		end     *time.Time
		want    int // occurrences: daily from the 15th
	}{
		{"COUNT", "FREQ=DAILY;COUNT=4", nil, 4},
		{"COUNT then End earlier", "FREQ=DAILY;COUNT=4", ptr(at(16)), 2},
		{"End is inclusive", "daily:", ptr(at(18)), 4},
		{"End just before an occurrence", "daily:", ptr(at(18).Add(-time.Second)), 3},
		{"End on the first occurrence", "daily:", ptr(at(15)), 1},
		{"UNTIL in UTC is inclusive", "FREQ=DAILY;UNTIL=20260118T080000Z", nil, 4},
		{"UNTIL earlier than End wins", "FREQ=DAILY;UNTIL=20260118T080000Z", ptr(at(20)), 4},
		{"End earlier than UNTIL wins", "FREQ=DAILY;UNTIL=20260118T080000Z", ptr(at(16)), 2},
		{"UNTIL as a local time in the series' zone", "FREQ=DAILY;UNTIL=20260117T090000", nil, 3},
		{"UNTIL as a local time a second early", "FREQ=DAILY;UNTIL=20260117T085959", nil, 2},
		{"UNTIL as a date runs through that day", "FREQ=DAILY;UNTIL=20260117", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: start, Loc: berlin, End: tt.end})
			got := r.Occurrences(start, 100)
			if len(got) != tt.want {
				t.Fatalf("%d occurrences %v, want %d", len(got), got, tt.want)
			}
			last := got[len(got)-1]
			if !last.Equal(at(15 + tt.want - 1)) {
				t.Fatalf("last occurrence %v, want %v", last, at(15+tt.want-1))
			}
			if next, ok := r.After(last); ok {
				t.Fatalf("After(last) = %v, want none", next)
			}
			if _, n, _ := r.Missed(start.Add(-time.Hour), last.AddDate(1, 0, 0)); n != tt.want {
				t.Fatalf("Missed counted %d, want %d", n, tt.want)
			}
		})
	}
}

func TestNoOccurrence(t *testing.T) {
	t.Parallel()
	end := thursday.AddDate(0, 0, 5)
	tests := []struct {
		name    string
		pattern string
		start   time.Time
		end     *time.Time
		want    string
	}{
		{"30 February", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", thursday, nil, "never occurs: no date matches BYMONTH=2;BYMONTHDAY=30"},
		{"31 April", "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4", thursday, nil, "never occurs: no date matches BYMONTH=4;BYMONTHDAY=31"},
		{"week 1 in June", "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6", thursday, nil, "no date matches BYMONTH=6;BYWEEKNO=1"},
		{"first day of the year in June", "FREQ=YEARLY;BYYEARDAY=1;BYMONTH=6", thursday, nil, "no date matches"},
		{"hourly on 31 February", "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31", thursday, nil, "no date matches"},
		{"hours the interval never reaches", "FREQ=HOURLY;INTERVAL=6;BYHOUR=5", thursday, nil, "never occurs: stepping 6 hours from 09:00:00 never lands"},
		{"minutes the interval never reaches", "FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30", thursday, nil, "never lands"},
		{"seconds the interval never reaches", "FREQ=SECONDLY;INTERVAL=60;BYSECOND=15", thursday, nil, "never lands"},
		{"a time of day hit once in 61 days", "FREQ=SECONDLY;INTERVAL=61;BYHOUR=18;BYMINUTE=3;BYSECOND=41", thursday, nil, "too sparse"},
		{"sixth Monday", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", thursday, nil, "BYSETPOS picks beyond the at most 5 candidates"},
		{"second of one", "FREQ=MINUTELY;BYSECOND=0;BYSETPOS=2", thursday, nil, "BYSETPOS picks beyond the at most 1 candidates"},
		{"every 7 days but never a Monday", "FREQ=DAILY;INTERVAL=7;BYDAY=MO", thursday, nil, "no occurrence in the 100 years after the start"},
		{"every 4 years never a leap year", "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", utc(t, "2025-01-01T09:00:00Z"), nil, "no occurrence in the 100 years"},
		{"every 168 hours never a Monday", "FREQ=HOURLY;INTERVAL=168;BYDAY=MO", thursday, nil, "too sparse"},
		{"End before the first occurrence", "monthly:last", thursday, &end, "the series ends (2026-01-20T09:00:00Z) before its first occurrence (2026-01-31T09:00:00Z)"},
		{"UNTIL before the first occurrence", "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20260120T000000Z", thursday, nil, "before its first occurrence"},
		{"UNTIL before the start", "FREQ=DAILY;UNTIL=20250101", thursday, nil, "before its first occurrence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := recurrence.Parse(tt.pattern, recurrence.Options{Start: tt.start, End: tt.end})
			assertInvalid(t, err, tt.want)
		})
	}
}

func TestMinInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		min     time.Duration
		want    string // "" means accepted
	}{
		{"every 30 seconds within a minutely rule", "FREQ=MINUTELY;BYSECOND=0,30", 0,
			"FREQ=MINUTELY;BYSECOND=0,30 has occurrences 30 seconds apart (2026-01-15 09:00:00 and 2026-01-15 09:00:30); occurrences must be at least 1 minute apart"},
		{"secondly", "FREQ=SECONDLY;INTERVAL=30", 0, "FREQ=SECONDLY;INTERVAL=30 repeats every 30 seconds; occurrences must be at least 1 minute apart"},
		{"secondly just under a minute", "FREQ=SECONDLY;INTERVAL=59", 0, "repeats every 59 seconds"},
		{"secondly every minute", "FREQ=SECONDLY;INTERVAL=60", 0, ""},
		{"minutely", "FREQ=MINUTELY", 0, ""},
		{"hourly under a 2-hour minimum", "FREQ=HOURLY", 2 * time.Hour, "repeats every 1 hour; occurrences must be at least 2 hours apart"},
		{"two hours a day under a 2-hour minimum", "FREQ=DAILY;BYHOUR=9,10", 2 * time.Hour, "occurrences 1 hour apart"},
		{"consecutive days under a 2-day minimum", "weekly:mon,tue", 48 * time.Hour, "occurrences 1 day apart"},
		{"last and first of the month under a 2-day minimum", "monthly:1,last", 48 * time.Hour, "occurrences 1 day apart"},
		{"weekdays under a 1-day minimum", "weekdays:", 24 * time.Hour, ""},
		{"daily under a 1-day minimum", "daily:", 24 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := recurrence.Parse(tt.pattern, recurrence.Options{Start: thursday, MinInterval: tt.min})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			assertInvalid(t, err, tt.want)
		})
	}
}

func TestMissed(t *testing.T) {
	t.Parallel()
	daily := mustParse(t, "daily:", recurrence.Options{Start: thursday})
	minutely := mustParse(t, "FREQ=MINUTELY;INTERVAL=5", recurrence.Options{Start: thursday})
	hourly := mustParse(t, "FREQ=HOURLY", recurrence.Options{Start: thursday})
	tests := []struct {
		name        string
		r           *recurrence.Rule
		after, upTo time.Time
		latest      string
		n           int
	}{
		{"some days", daily, thursday, utc(t, "2026-01-20T12:00:00Z"), "2026-01-20T09:00:00Z", 5},
		{"upTo is inclusive", daily, thursday, utc(t, "2026-01-20T09:00:00Z"), "2026-01-20T09:00:00Z", 5},
		{"after is exclusive", daily, thursday.Add(-time.Second), thursday, "2026-01-15T09:00:00Z", 1},
		{"none in between", daily, thursday.Add(time.Second), utc(t, "2026-01-16T08:59:59Z"), "", 0},
		{"upTo before after", daily, thursday.AddDate(0, 0, 3), thursday, "", 0},
		{"before the start", daily, utc(t, "2025-01-01T00:00:00Z"), thursday.Add(-time.Second), "", 0},
		{"thousands", minutely, thursday, thursday.AddDate(0, 0, 30), "2026-02-14T09:00:00Z", 8640},
		{"more than MaxMissed", hourly, thursday, thursday.AddDate(20, 0, 0).Add(30 * time.Minute), "2046-01-15T09:00:00Z", recurrence.MaxMissed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			latest, n, ok := tt.r.Missed(tt.after, tt.upTo)
			if n != tt.n || ok != (tt.n > 0) {
				t.Fatalf("Missed = %v, %d, %v; want %s, %d", latest, n, ok, tt.latest, tt.n)
			}
			if ok && latest.Format(time.RFC3339) != tt.latest {
				t.Fatalf("latest = %v, want %s", latest, tt.latest)
			}
		})
	}
}

func TestAddInterval(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name    string
		pattern string
		loc     *time.Location
		from    time.Time
		want    string
	}{
		{"two days across spring forward keeps 09:00", "daily/2:", ny, time.Date(2026, 3, 7, 9, 0, 0, 0, ny), "2026-03-09T13:00:00Z"},
		{"a day across fall back keeps 09:00", "daily:", berlin, time.Date(2026, 10, 24, 9, 0, 0, 0, berlin), "2026-10-25T08:00:00Z"},
		{"two weeks", "weekly/2:mon", time.UTC, thursday, "2026-01-29T09:00:00Z"},
		{"Jan 31 + 1 month clamps to Feb 28", "monthly:last", time.UTC, utc(t, "2026-01-31T09:00:00Z"), "2026-02-28T09:00:00Z"},
		{"Jan 31 + 1 month in a leap year is Feb 29", "monthly:", time.UTC, utc(t, "2028-01-31T09:00:00Z"), "2028-02-29T09:00:00Z"},
		{"Mar 31 + 1 month is Apr 30", "monthly:", time.UTC, utc(t, "2026-03-31T09:00:00Z"), "2026-04-30T09:00:00Z"},
		{"Nov 30 + 3 months is Feb 28", "monthly/3:", time.UTC, utc(t, "2026-11-30T09:00:00Z"), "2027-02-28T09:00:00Z"},
		{"Jan 15 + 1 month ignores BYMONTHDAY", "monthly:last", time.UTC, thursday, "2026-02-15T09:00:00Z"},
		{"Feb 29 + 1 year is Feb 28", "yearly:", time.UTC, utc(t, "2028-02-29T09:00:00Z"), "2029-02-28T09:00:00Z"},
		{"Feb 29 + 4 years is Feb 29", "yearly/4:", time.UTC, utc(t, "2028-02-29T09:00:00Z"), "2032-02-29T09:00:00Z"},
		{"an hour is elapsed time across spring forward", "FREQ=HOURLY", ny, time.Date(2026, 3, 8, 1, 30, 0, 0, ny), "2026-03-08T07:30:00Z"},
		{"15 minutes", "FREQ=MINUTELY;INTERVAL=15", ny, thursday, "2026-01-15T09:15:00Z"},
		{"90 seconds", "FREQ=SECONDLY;INTERVAL=90", ny, thursday, "2026-01-15T09:01:30Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: thursday, Loc: tt.loc})
			assertTimes(t, []time.Time{r.AddInterval(tt.from)}, []string{tt.want})
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	t.Run("start is required", func(t *testing.T) {
		t.Parallel()
		_, err := recurrence.Parse("daily:", recurrence.Options{})
		assertInvalid(t, err, "needs a start (due_date)")
	})
	t.Run("start is truncated to seconds, nil Loc is UTC", func(t *testing.T) {
		t.Parallel()
		start := time.Date(2026, 1, 15, 10, 0, 0, 999_999_999, time.FixedZone("+01", 3600))
		r := mustParse(t, "daily:", recurrence.Options{Start: start})
		first, _ := r.First()
		assertTimes(t, []time.Time{first}, []string{"2026-01-15T09:00:00Z"})
	})
	t.Run("After before the start is the first occurrence", func(t *testing.T) {
		t.Parallel()
		r := mustParse(t, "weekly:mon", recurrence.Options{Start: thursday})
		next, _ := r.After(time.Time{})
		assertTimes(t, []time.Time{next}, []string{"2026-01-19T09:00:00Z"})
	})
	t.Run("no occurrence beyond the horizon", func(t *testing.T) {
		t.Parallel()
		r := mustParse(t, "yearly:", recurrence.Options{Start: thursday})
		occ := r.Occurrences(thursday, 1000)
		if len(occ) != recurrence.Horizon+1 || !occ[len(occ)-1].Equal(utc(t, "2126-01-15T09:00:00Z")) {
			t.Fatalf("%d occurrences, the last %v", len(occ), occ[len(occ)-1])
		}
	})
	t.Run("no occurrence after the year 9999", func(t *testing.T) {
		t.Parallel()
		start := utc(t, "9950-06-01T12:00:00Z")
		r := mustParse(t, "yearly:", recurrence.Options{Start: start})
		occ := r.Occurrences(start, 1000)
		if len(occ) != 50 || occ[49].Year() != 9999 {
			t.Fatalf("%d occurrences, the last %v", len(occ), occ[len(occ)-1])
		}
	})
	t.Run("a start in the 17th century", func(t *testing.T) {
		t.Parallel()
		start := utc(t, "1601-01-01T00:00:00Z")
		r := mustParse(t, "FREQ=MONTHLY;BYDAY=-1FR", recurrence.Options{Start: start})
		assertTimes(t, r.Occurrences(start, 2), []string{"1601-01-26T00:00:00Z", "1601-02-23T00:00:00Z"})
	})
}

// TestConcurrentUse shares one Rule between goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	loc := mustLoc(t, "Europe/Berlin")
	r := mustParse(t, "FREQ=HOURLY;INTERVAL=5;BYDAY=MO,WE", recurrence.Options{Start: thursday, Loc: loc})
	want := r.Occurrences(thursday, 200)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i+1 < len(want); i += 8 {
				if next, ok := r.After(want[i]); !ok || !next.Equal(want[i+1]) {
					t.Errorf("After(%v) = %v, want %v", want[i], next, want[i+1])
				}
				if _, n, _ := r.Missed(want[0], want[i]); n != i {
					t.Errorf("Missed up to #%d counted %d", i, n)
				}
			}
		})
	}
	wg.Wait()
}

func TestAllows(t *testing.T) {
	t.Parallel()
	end := utc(t, "2026-03-01T00:00:00Z")
	tests := []struct {
		name    string
		pattern string
		end     *time.Time
		at      time.Time
		n       int
		want    bool
	}{
		{"open series", "daily:", nil, utc(t, "2030-01-01T00:00:00Z"), 5000, true},
		{"at the end", "daily:", &end, end, 1, true},
		{"after the end", "daily:", &end, end.Add(time.Second), 1, false},
		{"after UNTIL", "FREQ=DAILY;UNTIL=20260201", nil, utc(t, "2026-02-02T00:00:00Z"), 1, false},
		{"the COUNT-th instance", "FREQ=WEEKLY;COUNT=3", nil, utc(t, "2027-01-01T00:00:00Z"), 3, true},
		{"one more than COUNT", "FREQ=WEEKLY;COUNT=3", nil, utc(t, "2026-01-16T00:00:00Z"), 4, false},
		{"beyond the horizon", "daily:", nil, thursday.AddDate(recurrence.Horizon, 0, 1), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: thursday, End: tt.end})
			if got := r.Allows(tt.at, tt.n); got != tt.want {
				t.Fatalf("Allows(%v, %d) = %v, want %v", tt.at, tt.n, got, tt.want)
			}
		})
	}
}
