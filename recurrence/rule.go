package recurrence

import (
	"fmt"
	"time"

	"github.com/teambition/rrule-go"
)

// Bounds on the work a rule can cause. They are part of the public contract.
const (
	// Horizon is how many years after its start a series runs at most: no
	// occurrence lies further out, and a rule without an occurrence in that
	// time is refused as one that never occurs.
	Horizon = 100
	// MaxMissed is the largest count Missed reports; a count of MaxMissed
	// means "at least MaxMissed".
	MaxMissed = 100_000
	// DefaultMinInterval is the MinInterval used when Options leaves it 0.
	DefaultMinInterval = time.Minute
)

// sampleSize is how many occurrences Parse inspects for their spacing.
const sampleSize = 200

// maxTime is the last instant an occurrence may fall on: later times do not
// fit RFC 3339 (and JSON) timestamps.
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Options describe the series a pattern belongs to.
type Options struct {
	// Start is the series' due_date: occurrences are at or after it. Its
	// wall-clock time in Loc is the time of day of every occurrence unless
	// the rule sets BYHOUR, BYMINUTE or BYSECOND; its weekday, day and month
	// fill in what the rule leaves open (weekly:, monthly:, FREQ=YEARLY).
	// It is truncated to whole seconds; its year is 1 to 9999.
	Start time.Time
	// Loc is the series' time zone; nil means UTC.
	Loc *time.Location
	// End is the inclusive last instant an occurrence may fall on
	// (recurrence_end_date); nil means none.
	End *time.Time
	// MinInterval refuses rules whose occurrences can come closer than
	// this on the wall clock; 0 means DefaultMinInterval.
	MinInterval time.Duration
}

// Rule is a parsed recurrence of one series: its pattern bound to a start, a
// time zone and an end. A Rule is immutable and safe for concurrent use;
// create it with Parse. Every time it returns is in UTC. Its methods do not
// fail: an expansion that ends early (see Bounds in the package
// documentation) ends the series there.
type Rule struct {
	spec  spec
	opt   rrule.ROption  // spec with rrule-go's start-derived defaults made explicit; no Dtstart, Count or Until
	inner *rrule.ROption // for a sub-daily rule with day filters: opt without them (see raw); else nil
	loc   *time.Location
	min   time.Duration
	start time.Time // UTC, whole seconds
	first time.Time
	limit time.Time // inclusive: the earliest of End, UNTIL, Horizon and maxTime
	end   time.Time // inclusive: limit, or the COUNT-th occurrence if earlier

	wStart time.Time // start's wall clock in loc, as a "floating" time in time.UTC
	p0     time.Time // floating start of the FREQ period that holds wStart
	step   int64     // seconds per period for fixed-length FREQs; 0 for MONTHLY and YEARLY
}

// Parse parses pattern (a shorthand or an RFC 5545 RRULE, see the package
// documentation) for the series described by o. Every error matches
// ErrInvalid and says what is wrong.
func Parse(pattern string, o Options) (*Rule, error) {
	sp, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	if o.Start.IsZero() {
		return nil, invalidf("a recurring series needs a start (due_date)")
	}
	r := &Rule{spec: sp, loc: o.Loc, min: o.MinInterval}
	if r.loc == nil {
		r.loc = time.UTC
	}
	if r.min <= 0 {
		r.min = DefaultMinInterval
	}
	r.min = min(r.min, 2*Horizon*366*24*time.Hour) // no rule is that sparse; keeps sums from overflowing
	r.start = o.Start.Truncate(time.Second).UTC()
	if y := r.start.In(r.loc).Year(); y < 1 || y > 9999 {
		return nil, invalidf("start year %d is outside 1 to 9999", y)
	}
	r.wStart = r.floating(r.start)
	r.opt = sp.materialize(r.wStart)
	if sp.freq >= rrule.HOURLY && len(sp.byMonth)+len(sp.byMonthDay)+len(sp.byYearDay)+len(sp.byDay) > 0 {
		inner := r.opt
		inner.Bymonth, inner.Bymonthday, inner.Byyearday, inner.Byweekday = nil, nil, nil, nil
		r.inner = &inner
	}
	r.initGrid()
	for _, check := range []func() error{r.checkTimesOfDay, r.checkSetPos, r.checkDays, r.checkSpacing} {
		if err := check(); err != nil {
			return nil, err
		}
	}

	horizon := r.start.AddDate(Horizon, 0, 0)
	if horizon.After(maxTime) {
		horizon = maxTime
	}
	first, found, err := r.next(r.start, horizon)
	switch {
	case err != nil:
		return nil, r.unexpandable(err)
	case !found:
		return nil, invalidf("never occurs: %s has no occurrence in the %d years after the start (%s)", sp, Horizon, r.format(r.start))
	}
	end := horizon
	if o.End != nil && o.End.Before(end) {
		end = o.End.UTC()
	}
	if u, ok := r.untilInstant(); ok && u.Before(end) {
		end = u
	}
	if first.After(end) {
		return nil, invalidf("the series ends (%s) before its first occurrence (%s)", r.format(end), r.format(first))
	}
	r.limit, r.end, r.first = end, end, first
	if sp.count > 0 {
		n := 0
		err := r.walk(r.start, r.end, func(x time.Time) bool {
			n++
			if n == sp.count {
				r.end = x
				return false
			}
			return true
		})
		if err != nil {
			return nil, r.unexpandable(err)
		}
	}
	return r, nil
}

// untilInstant is UNTIL as an instant: a local time or date is read in the
// series' zone, a date meaning the end of that day.
func (r *Rule) untilInstant() (time.Time, bool) {
	u := r.spec.until
	switch u.form {
	case untilUTC:
		return u.t, true
	case untilLocal:
		y, m, d := u.t.Date()
		hh, mm, ss := u.t.Clock()
		return time.Date(y, m, d, hh, mm, ss, 0, r.loc).UTC(), true
	case untilDate:
		y, m, d := u.t.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, r.loc).Add(-time.Nanosecond).UTC(), true
	}
	return time.Time{}, false
}

// First returns the first occurrence, at or after the start. Every parsed
// Rule has one.
func (r *Rule) First() (time.Time, bool) {
	return r.first, !r.first.IsZero()
}

// After returns the first occurrence strictly after t; false when the
// series has none left.
func (r *Rule) After(t time.Time) (time.Time, bool) {
	if t.Before(r.start) {
		return r.First()
	}
	x, found, _ := r.next(t.Add(time.Nanosecond), r.end)
	return x, found
}

// Occurrences returns the occurrences at or after from, at most limit of
// them, in ascending order. The work is proportional to limit.
func (r *Rule) Occurrences(from time.Time, limit int) []time.Time {
	if limit <= 0 {
		return nil
	}
	out := make([]time.Time, 0, min(limit, 256))
	r.walk(from, r.end, func(x time.Time) bool {
		out = append(out, x)
		return len(out) < limit
	})
	return out
}

// Missed reports the occurrences in (after, upTo]: the latest of them and
// how many there are; ok is false when there are none. The count stops at
// MaxMissed (so a count of MaxMissed means at least that many); latest is
// exact either way. The work is proportional to the count.
func (r *Rule) Missed(after, upTo time.Time) (latest time.Time, n int, ok bool) {
	if upTo.After(r.end) {
		upTo = r.end
	}
	if !upTo.After(after) {
		return time.Time{}, 0, false
	}
	r.walk(after.Add(time.Nanosecond), upTo, func(x time.Time) bool {
		latest = x
		n++
		return n < MaxMissed
	})
	if n == MaxMissed {
		latest = r.latest(after, upTo)
	}
	return latest, n, n > 0
}

// latest returns the last occurrence in (after, upTo], looking back from
// upTo in growing steps.
func (r *Rule) latest(after, upTo time.Time) time.Time {
	back := 2*r.nominal() + r.min
	for {
		from := upTo.Add(-back)
		if !from.After(after) {
			from = after.Add(time.Nanosecond)
		}
		var last time.Time
		r.walk(from, upTo, func(x time.Time) bool {
			last = x
			return true
		})
		if !last.IsZero() || from.Equal(after.Add(time.Nanosecond)) {
			return last
		}
		back *= 4
	}
}

// Allows reports whether an instance due at t that is the series' nth
// (counting from 1) is within the series' bounds: t at or before End, UNTIL
// and the Horizon, and n at most COUNT. The from_completion mode asks it
// about the instance AddInterval places; in the schedule mode COUNT counts
// occurrences instead and the methods above already stop at the last one.
func (r *Rule) Allows(t time.Time, n int) bool {
	return !t.After(r.limit) && (r.spec.count == 0 || n <= r.spec.count)
}

// AddInterval returns t plus one interval of the rule (FREQ times INTERVAL),
// counted on the wall clock in the series' zone: days, weeks, months and
// years keep the time of day across DST changes, hours, minutes and seconds
// are elapsed time. A month or year step that lands on a day the target
// month does not have clamps to its last day: Jan 31 + 1 month is Feb 28
// (Feb 29 in a leap year), Feb 29 + 1 year is Feb 28. BYxxx parts play no
// part. It is the step of the from_completion mode.
func (r *Rule) AddInterval(t time.Time) time.Time {
	i := r.spec.interval
	switch r.spec.freq {
	case rrule.SECONDLY:
		return t.Add(time.Duration(i) * time.Second).UTC()
	case rrule.MINUTELY:
		return t.Add(time.Duration(i) * time.Minute).UTC()
	case rrule.HOURLY:
		return t.Add(time.Duration(i) * time.Hour).UTC()
	}
	l := t.In(r.loc)
	y, m, d := l.Date()
	hh, mm, ss := l.Clock()
	switch r.spec.freq {
	case rrule.DAILY:
		d += i
	case rrule.WEEKLY:
		d += 7 * i
	case rrule.MONTHLY:
		m += time.Month(i)
		d = min(d, daysIn(y, m))
	case rrule.YEARLY:
		y += i
		d = min(d, daysIn(y, m))
	}
	return time.Date(y, m, d, hh, mm, ss, l.Nanosecond(), r.loc).UTC()
}

// daysIn is the number of days of month m of year y (m may be past 12).
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// RRule returns the canonical RFC 5545 RRULE the pattern means, without
// "RRULE:" and DTSTART: "monthly:last" is "FREQ=MONTHLY;BYMONTHDAY=-1".
// What the pattern leaves to the start stays implicit ("weekly:" is
// "FREQ=WEEKLY"), so that Parse(r.RRule(), o) is the same rule as r.
func (r *Rule) RRule() string {
	return r.spec.String()
}

// nominal is the shortest length of one period (FREQ times INTERVAL).
func (r *Rule) nominal() time.Duration {
	return time.Duration(unitSeconds(r.spec.freq)*int64(r.spec.interval)) * time.Second
}

// format renders t for messages: RFC 3339 in the series' zone.
func (r *Rule) format(t time.Time) string {
	return t.In(r.loc).Format(time.RFC3339)
}

// human renders d for messages: "1 minute", "90 seconds", "2 hours".
func human(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	for _, u := range units {
		if d >= u.d && d%u.d == 0 {
			n := d / u.d
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}
