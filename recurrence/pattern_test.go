package recurrence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

// thursday is the start of the series in the pattern tests: Thursday
// 2026-01-15 09:00 UTC.
var thursday = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

func TestShorthand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		rrule   string
		want    []string // the first occurrences, UTC, from thursday
	}{
		{"daily", "daily:", "FREQ=DAILY", []string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z", "2026-01-17T09:00:00Z"}},
		{"daily without colon", "daily", "FREQ=DAILY", []string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z"}},
		{"case and spaces", "  DAILY :  ", "FREQ=DAILY", []string{"2026-01-15T09:00:00Z"}},
		{"every third day", "daily/3:", "FREQ=DAILY;INTERVAL=3", []string{"2026-01-15T09:00:00Z", "2026-01-18T09:00:00Z", "2026-01-21T09:00:00Z"}},
		{"weekly on days", "weekly:mon,wed,fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR",
			[]string{"2026-01-16T09:00:00Z", "2026-01-19T09:00:00Z", "2026-01-21T09:00:00Z", "2026-01-23T09:00:00Z"}},
		{"weekly day names in any form and order", "Weekly: Friday, MO ,fri", "FREQ=WEEKLY;BYDAY=MO,FR",
			[]string{"2026-01-16T09:00:00Z", "2026-01-19T09:00:00Z"}},
		{"weekly on the start's weekday", "weekly:", "FREQ=WEEKLY", []string{"2026-01-15T09:00:00Z", "2026-01-22T09:00:00Z"}},
		{"fortnightly on Monday", "weekly/2:mon", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
			[]string{"2026-01-26T09:00:00Z", "2026-02-09T09:00:00Z", "2026-02-23T09:00:00Z"}},
		{"weekdays", "weekdays:", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
			[]string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z", "2026-01-19T09:00:00Z", "2026-01-20T09:00:00Z"}},
		{"weekdays every other week", "weekdays/2:", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR",
			[]string{"2026-01-15T09:00:00Z", "2026-01-16T09:00:00Z", "2026-01-26T09:00:00Z"}},
		{"monthly on the 15th", "monthly:15", "FREQ=MONTHLY;BYMONTHDAY=15",
			[]string{"2026-01-15T09:00:00Z", "2026-02-15T09:00:00Z", "2026-03-15T09:00:00Z"}},
		{"monthly on two days", "monthly:15,1", "FREQ=MONTHLY;BYMONTHDAY=1,15",
			[]string{"2026-01-15T09:00:00Z", "2026-02-01T09:00:00Z", "2026-02-15T09:00:00Z"}},
		{"monthly on the last day", "monthly:last", "FREQ=MONTHLY;BYMONTHDAY=-1",
			[]string{"2026-01-31T09:00:00Z", "2026-02-28T09:00:00Z", "2026-03-31T09:00:00Z", "2026-04-30T09:00:00Z"}},
		{"half-yearly on the last day", "monthly/6:last", "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1",
			[]string{"2026-01-31T09:00:00Z", "2026-07-31T09:00:00Z", "2027-01-31T09:00:00Z"}},
		{"monthly on the start's day", "monthly:", "FREQ=MONTHLY", []string{"2026-01-15T09:00:00Z", "2026-02-15T09:00:00Z"}},
		{"yearly", "yearly:03-14", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14",
			[]string{"2026-03-14T09:00:00Z", "2027-03-14T09:00:00Z", "2028-03-14T09:00:00Z"}},
		{"every other year", "yearly/2:12-25", "FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=25",
			[]string{"2026-12-25T09:00:00Z", "2028-12-25T09:00:00Z"}},
		{"yearly on the start's date", "yearly:", "FREQ=YEARLY", []string{"2026-01-15T09:00:00Z", "2027-01-15T09:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: thursday})
			if got := r.RRule(); got != tt.rrule {
				t.Errorf("RRule() = %q, want %q", got, tt.rrule)
			}
			assertTimes(t, r.Occurrences(thursday, len(tt.want)), tt.want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		want    string // a part of the message
	}{
		{"empty", "  ", "pattern is empty"},
		{"too long", "FREQ=DAILY;" + strings.Repeat("x", recurrence.MaxPatternLen), "at most 500"},
		{"unknown kind", "fortnightly:", `unknown pattern "fortnightly:"`},
		{"misspelt weekday", "weekly:mnday", `unknown weekday "mnday" in weekly:mnday`},
		{"one bad weekday of several", "weekly:mon,thurday", `unknown weekday "thurday"`},
		{"month day too large", "monthly:32", "month day 32 out of range (1 to 31, or last) in monthly:32"},
		{"month day zero", "monthly:0", "month day 0 out of range"},
		{"month day not a number", "monthly:first", `month day "first" is neither a number nor last`},
		{"date that does not exist", "yearly:02-30", "day 30 out of range for February (1 to 29) in yearly:02-30"},
		{"month out of range", "yearly:13-01", "month 13 out of range"},
		{"date in the wrong form", "yearly:3/14", "must be one MM-DD date"},
		{"several dates", "yearly:03-14,12-25", "must be one MM-DD date"},
		{"argument to daily", "daily:9am", `daily takes no argument (got "9am" in daily:9am)`},
		{"argument to weekdays", "weekdays:mon", "weekdays takes no argument"},
		{"interval zero", "daily/0:", `interval "0" in daily/0: must be a whole number of at least 1`},
		{"interval not a number", "weekly/two:mon", `interval "two"`},
		{"interval beyond the horizon", "yearly/101:01-01", "INTERVAL=101 is too long"},
		{"DTSTART line", "DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "must be a single RRULE line"},
		{"DTSTART property", "DTSTART;TZID=Europe/Berlin:20260101T090000", "DTSTART is not allowed in the pattern: the series starts at due_date in its time zone"},
		{"DTSTART part", "FREQ=DAILY;DTSTART=20260101T090000Z", "DTSTART is not allowed"},
		{"TZID part", "FREQ=DAILY;TZID=Europe/Berlin", "TZID is not allowed"},
		{"EXDATE", "EXDATE:20260101T090000Z", "EXDATE is not supported"},
		{"RDATE part", "RRULE:FREQ=DAILY;RDATE=20260101", "RDATE is not supported"},
		{"COUNT with UNTIL", "FREQ=DAILY;COUNT=3;UNTIL=20261231", "COUNT and UNTIL cannot both be given"},
		{"COUNT zero", "FREQ=DAILY;COUNT=0", `COUNT must be a whole number of at least 1 (got "0")`},
		{"COUNT negative", "FREQ=DAILY;COUNT=-2", "COUNT must be"},
		{"COUNT too large", "FREQ=DAILY;COUNT=10001", "COUNT=10001 is too large"},
		{"INTERVAL zero", "FREQ=WEEKLY;INTERVAL=0", "INTERVAL must be a whole number of at least 1"},
		{"INTERVAL beyond the horizon", "FREQ=MONTHLY;INTERVAL=1201", "INTERVAL=1201 is too long"},
		{"unknown part", "FREQ=DAILY;BYFOO=1", `unknown rule part "BYFOO"`},
		{"BYEASTER is no RFC 5545 part", "FREQ=YEARLY;BYEASTER=0", `unknown rule part "BYEASTER"`},
		{"unknown FREQ", "FREQ=FORTNIGHTLY", "FREQ=FORTNIGHTLY is not one of"},
		{"no FREQ", "RRULE:INTERVAL=2", "FREQ is required"},
		{"part twice", "FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"},
		{"part without value", "FREQ=DAILY;BYHOUR=", "BYHOUR has no value"},
		{"part without =", "FREQ=DAILY;BYHOUR", `rule part "BYHOUR" is not NAME=VALUE`},
		{"BYMONTHDAY out of range", "FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY: 32 is out of range (1 to 31, or -31 to -1 counting from the end)"},
		{"BYMONTHDAY zero", "FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY: 0 is out of range"},
		{"BYHOUR out of range", "FREQ=DAILY;BYHOUR=24", "BYHOUR: 24 is out of range (0 to 23)"},
		{"BYMONTH not a number", "FREQ=YEARLY;BYMONTH=MAR", `BYMONTH: "MAR" is not a whole number`},
		{"BYSECOND leap second", "FREQ=DAILY;BYSECOND=60", "BYSECOND: 60 is out of range (0 to 59)"},
		{"BYDAY unknown", "FREQ=WEEKLY;BYDAY=XX", `BYDAY: "XX" is not a weekday`},
		{"BYDAY ordinal out of range", "FREQ=YEARLY;BYDAY=54MO", `BYDAY: "54MO" is out of range`},
		{"numbered BYDAY with WEEKLY", "FREQ=WEEKLY;BYDAY=2MO", "numbered BYDAY values such as 2MO need FREQ=MONTHLY or FREQ=YEARLY"},
		{"sixth Monday of a month", "FREQ=MONTHLY;BYDAY=6MO", "BYDAY=6MO never occurs: a month has at most 5 of each weekday"},
		{"sixth Monday of March", "FREQ=YEARLY;BYMONTH=3;BYDAY=-6MO", "at most 5 of each weekday"},
		{"numbered BYDAY with BYWEEKNO", "FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "cannot be combined with BYWEEKNO"},
		{"plain and numbered BYDAY", "FREQ=MONTHLY;BYDAY=MO,2TU", "BYDAY cannot mix"},
		{"BYWEEKNO with MONTHLY", "FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO is only allowed with FREQ=YEARLY"},
		{"BYYEARDAY with DAILY", "FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY is not allowed with FREQ=DAILY"},
		{"BYMONTHDAY with WEEKLY", "FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is not allowed with FREQ=WEEKLY"},
		{"BYSETPOS alone", "FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BYxxx part"},
		{"UNTIL not a date", "FREQ=DAILY;UNTIL=2026-12-31", "UNTIL=2026-12-31 is not a date"},
		{"WKST not a day", "FREQ=WEEKLY;WKST=XX", "WKST=XX is not a weekday"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := recurrence.Parse(tt.pattern, recurrence.Options{Start: thursday})
			assertInvalid(t, err, tt.want)
		})
	}
}

func TestRRuleCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ pattern, want string }{
		{"FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;BYMONTHDAY=-1"},
		{"rrule:freq=weekly;byday=fr,mo,fr;interval=2", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"},
		{"FREQ=MONTHLY;BYDAY=-1FR,+2MO", "FREQ=MONTHLY;BYDAY=2MO,-1FR"},
		{"FREQ=YEARLY;BYMONTHDAY=1;BYMONTH=3,1;WKST=SU;", "FREQ=YEARLY;BYMONTH=1,3;BYMONTHDAY=1;WKST=SU"},
		{"FREQ=DAILY;INTERVAL=1;WKST=MO", "FREQ=DAILY"},
		{"FREQ=DAILY; COUNT = 5 ", "FREQ=DAILY;COUNT=5"},
		{"FREQ=DAILY;UNTIL=20261231T235959Z", "FREQ=DAILY;UNTIL=20261231T235959Z"},
		{"FREQ=DAILY;UNTIL=20261231", "FREQ=DAILY;UNTIL=20261231"},
		{"FREQ=DAILY;UNTIL=20261231T170000", "FREQ=DAILY;UNTIL=20261231T170000"},
		{"FREQ=HOURLY;BYSECOND=0;BYMINUTE=30,0;BYHOUR=17,9", "FREQ=HOURLY;BYHOUR=9,17;BYMINUTE=0,30;BYSECOND=0"},
		{"FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
		{"FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.pattern, recurrence.Options{Start: thursday})
			if got := r.RRule(); got != tt.want {
				t.Fatalf("RRule() = %q, want %q", got, tt.want)
			}
			again := mustParse(t, r.RRule(), recurrence.Options{Start: thursday})
			if !equalTimes(r.Occurrences(thursday, 20), again.Occurrences(thursday, 20)) {
				t.Fatalf("%q and its RRULE %q expand differently", tt.pattern, r.RRule())
			}
		})
	}
}

// assertInvalid checks that err matches ErrInvalid and says want.
func assertInvalid(tb testing.TB, err error, want string) {
	tb.Helper()
	switch {
	case err == nil:
		tb.Fatalf("no error, want one saying %q", want)
	case !errors.Is(err, recurrence.ErrInvalid):
		tb.Fatalf("error %q does not match ErrInvalid", err)
	case !strings.Contains(err.Error(), want):
		tb.Fatalf("error %q does not say %q", err, want)
	}
}

// assertTimes checks got against RFC 3339 instants, and that every one is
// in UTC.
func assertTimes(tb testing.TB, got []time.Time, want []string) {
	tb.Helper()
	var gs []string
	for _, g := range got {
		if g.Location() != time.UTC {
			tb.Errorf("%v is not in UTC", g)
		}
		gs = append(gs, g.Format(time.RFC3339))
	}
	if strings.Join(gs, " ") != strings.Join(want, " ") {
		tb.Fatalf("got  %v\nwant %v", gs, want)
	}
}
