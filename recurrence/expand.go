package recurrence

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// How expansion works, and why it is bounded.
//
// rrule-go expands the rule on "floating" wall-clock times: the series'
// local date and time written in time.UTC, where no DST exists. Each
// floating time is then placed in the series' zone with time.Date.
//
// rrule-go always starts at DTSTART and only stops once it yields a time or
// passes the year 9999: a rule that never matches again makes it walk to
// 9999 period by period (minutes of it for FREQ=SECONDLY). Two things keep
// every expansion bounded:
//
//   - Rebasing: a period-aligned later DTSTART gives the same occurrences
//     from there on (every start-derived default is made explicit first), so
//     a walk starts in the period of the time asked about, not at the
//     series' start.
//   - Windows near 9999: the Gregorian calendar repeats every 400 years
//     (146097 days, a whole number of weeks), so the rule is expanded with
//     DTSTART moved by a multiple of 400 years into 9600..9999 and the
//     results moved back. rrule-go then stops by itself within 400 years;
//     the next window continues from the following period.
//
// Rules that would make rrule-go loop forever (an hour, minute or second
// filter that the interval never reaches), that have an empty set for
// BYSETPOS to pick from, or whose day filters match no day of the 400-year
// cycle are refused up front, the last with one cheap yearly probe.

// cycle is 400 Gregorian years in seconds.
const cycle = 146097 * 86400

// windowStart is the first year of the expansion window.
const windowStart = 9600

// windowEnd is where rrule-go stops (MAXYEAR 9999 is its last year).
var windowEnd = time.Date(rrule.MAXYEAR+1, 1, 1, 0, 0, 0, 0, time.UTC)

// materialize returns the rrule-go options for sp with the defaults rrule-go
// would take from DTSTART (start, a floating time) made explicit, so that
// any DTSTART may be used to expand the rule.
func (sp spec) materialize(start time.Time) rrule.ROption {
	o := rrule.ROption{
		Freq:       sp.freq,
		Interval:   sp.interval,
		Wkst:       rrWeekday(weekday{day: sp.wkst}),
		Bymonth:    sp.byMonth,
		Byweekno:   sp.byWeekNo,
		Byyearday:  sp.byYearDay,
		Bymonthday: sp.byMonthDay,
		Byhour:     sp.byHour,
		Byminute:   sp.byMinute,
		Bysecond:   sp.bySecond,
		Bysetpos:   sp.bySetPos,
	}
	for _, w := range sp.byDay {
		o.Byweekday = append(o.Byweekday, rrWeekday(w))
	}
	if len(o.Byweekno)+len(o.Byyearday)+len(o.Bymonthday)+len(o.Byweekday) == 0 {
		switch sp.freq {
		case rrule.YEARLY:
			if len(o.Bymonth) == 0 {
				o.Bymonth = []int{int(start.Month())}
			}
			o.Bymonthday = []int{start.Day()}
		case rrule.MONTHLY:
			o.Bymonthday = []int{start.Day()}
		case rrule.WEEKLY:
			o.Byweekday = []rrule.Weekday{rrWeekday(weekday{day: isoDay(start)})}
		}
	}
	if len(o.Byhour) == 0 && sp.freq < rrule.HOURLY {
		o.Byhour = []int{start.Hour()}
	}
	if len(o.Byminute) == 0 && sp.freq < rrule.MINUTELY {
		o.Byminute = []int{start.Minute()}
	}
	if len(o.Bysecond) == 0 && sp.freq < rrule.SECONDLY {
		o.Bysecond = []int{start.Second()}
	}
	return o
}

var rrDays = [7]rrule.Weekday{rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU}

func rrWeekday(w weekday) rrule.Weekday {
	d := rrDays[w.day]
	if w.n == 0 {
		return d
	}
	return d.Nth(w.n)
}

// isoDay is t's weekday counted from Monday = 0.
func isoDay(t time.Time) int { return (int(t.Weekday()) + 6) % 7 }

// initGrid sets p0 and step: period k of the rule starts at p0 plus k
// times INTERVAL FREQ units, exactly where rrule-go's own walk from the
// start would begin that period.
func (r *Rule) initGrid() {
	s := r.wStart
	y, m, d := s.Date()
	i := int64(r.opt.Interval)
	switch r.opt.Freq {
	case rrule.YEARLY:
		r.p0 = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	case rrule.MONTHLY:
		r.p0 = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	case rrule.WEEKLY:
		back := (isoDay(s) - r.spec.wkst + 7) % 7
		r.p0 = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		r.step = 7 * 86400 * i
	case rrule.DAILY:
		r.p0 = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		r.step = 86400 * i
	case rrule.HOURLY:
		r.p0 = s.Truncate(time.Hour)
		r.step = 3600 * i
	case rrule.MINUTELY:
		r.p0 = s.Truncate(time.Minute)
		r.step = 60 * i
	case rrule.SECONDLY:
		r.p0 = s
		r.step = i
	}
}

// period returns the index of the last period starting at or before the
// floating time w (negative before p0).
func (r *Rule) period(w time.Time) int {
	i := r.opt.Interval
	switch r.opt.Freq {
	case rrule.YEARLY:
		return floorDiv(w.Year()-r.p0.Year(), i)
	case rrule.MONTHLY:
		return floorDiv(months(w)-months(r.p0), i)
	}
	return int(floorDiv64(w.Unix()-r.p0.Unix(), r.step))
}

// periodStart returns the floating start of period k.
func (r *Rule) periodStart(k int) time.Time {
	i := r.opt.Interval
	switch r.opt.Freq {
	case rrule.YEARLY:
		return time.Date(r.p0.Year()+k*i, 1, 1, 0, 0, 0, 0, time.UTC)
	case rrule.MONTHLY:
		return time.Date(r.p0.Year(), r.p0.Month()+time.Month(k*i), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(r.p0.Unix()+int64(k)*r.step, 0).UTC()
}

func months(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// raw calls fn with the rule's floating occurrences in [wFrom, wStop] in
// ascending order until fn returns false. It returns errFailed if rrule-go
// refused the options or panicked, errSparse past maxRejects.
//
// A sub-daily rule with day filters (BYMONTH, BYMONTHDAY, BYYEARDAY, BYDAY)
// is expanded without them, one run of matching days at a time, and days
// that do not match are skipped here: rrule-go would step through every
// one of them INTERVAL by INTERVAL looking for its BYHOUR and BYMINUTE.
// For such rules each period is one instant of one day, so the day filters
// only ever drop whole periods and BYSETPOS means the same either way.
func (r *Rule) raw(wFrom, wStop time.Time, fn func(w time.Time) bool) error {
	if r.inner == nil {
		return r.expand(&r.opt, wFrom, wStop, fn)
	}
	for rejects := 0; ; rejects++ {
		if rejects > maxRejects {
			return errSparse
		}
		if day, ok := r.nextDay(midnight(wFrom), wStop); !ok {
			return nil
		} else if day.After(wFrom) {
			wFrom = day
		}
		var rejected time.Time
		err := r.expand(r.inner, wFrom, wStop, func(w time.Time) bool {
			if !r.dayOK(w) {
				rejected = w
				return false
			}
			return fn(w)
		})
		if err != nil || rejected.IsZero() {
			return err
		}
		wFrom = midnight(rejected).AddDate(0, 0, 1)
	}
}

// maxRejects bounds how often one walk of a sub-daily rule with day
// filters may find its next step on a day the filters reject (possible only
// when INTERVAL does not divide a day, as with FREQ=HOURLY;INTERVAL=168,
// whose steps fall on one weekday).
const maxRejects = 400

// Reasons an expansion ends early.
var (
	errSparse = errors.New("its steps keep missing the days it allows")
	errFailed = errors.New("rrule-go failed")
)

// midnight is the start of w's day.
func midnight(w time.Time) time.Time {
	y, m, d := w.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dayOK reports whether the day of the floating time w passes the day
// filters of a sub-daily rule, as rrule-go would judge it.
func (r *Rule) dayOK(w time.Time) bool {
	sp := &r.spec
	y, m, d := w.Date()
	if len(sp.byMonth) > 0 && !slices.Contains(sp.byMonth, int(m)) {
		return false
	}
	if len(sp.byMonthDay) > 0 && !slices.Contains(sp.byMonthDay, d) && !slices.Contains(sp.byMonthDay, d-daysIn(y, m)-1) {
		return false
	}
	if len(sp.byYearDay) > 0 {
		yd, n := w.YearDay(), time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).YearDay()
		if !slices.Contains(sp.byYearDay, yd) && !slices.Contains(sp.byYearDay, yd-n-1) {
			return false
		}
	}
	if len(sp.byDay) > 0 && !slices.ContainsFunc(sp.byDay, func(wd weekday) bool { return wd.day == isoDay(w) }) {
		return false
	}
	return true
}

// nextDay returns the first day at or after day (a midnight) that passes
// the day filters, up to wStop and at most one 400-year cycle ahead.
func (r *Rule) nextDay(day, wStop time.Time) (time.Time, bool) {
	for range 146097 {
		if day.After(wStop) {
			return time.Time{}, false
		}
		if r.dayOK(day) {
			return day, true
		}
		y, m, d := day.Date()
		if len(r.spec.byMonth) > 0 && !slices.Contains(r.spec.byMonth, int(m)) {
			day = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC) // skip the month
		} else {
			day = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		}
	}
	return time.Time{}, false
}

// expand calls fn with the floating occurrences of o (an expansion of the
// rule, possibly without its day filters) in [wFrom, wStop] until fn
// returns false, in windows near the year 9999.
func (r *Rule) expand(o *rrule.ROption, wFrom, wStop time.Time, fn func(w time.Time) bool) error {
	anchor := r.wStart
	if k := r.period(wFrom); k > 0 {
		anchor = r.periodStart(k)
	}
	for anchor.Year() <= rrule.MAXYEAR && !anchor.After(wStop) {
		var shift int64 // seconds
		if y := anchor.Year(); y < windowStart {
			shift = int64((windowStart-y+399)/400) * cycle
		}
		opt := *o
		opt.Dtstart = time.Unix(anchor.Unix()+shift, 0).UTC()
		next, ok := iterate(opt)
		if !ok {
			return errFailed
		}
		for {
			v, ok, failed := pull(next)
			if failed {
				return errFailed
			}
			if !ok {
				break
			}
			w := time.Unix(v.Unix()-shift, 0).UTC()
			if w.Before(wFrom) {
				continue
			}
			if w.After(wStop) || !fn(w) {
				return nil
			}
		}
		// The window held every period starting before windowEnd; go on
		// with the first period at or after it.
		boundary := time.Unix(windowEnd.Unix()-shift, 0).UTC()
		k := r.period(boundary)
		if r.periodStart(k).Before(boundary) {
			k++
		}
		anchor = r.periodStart(k)
	}
	return nil
}

// iterate starts rrule-go on o, turning a panic into a failure.
func iterate(o rrule.ROption) (next rrule.Next, ok bool) {
	defer func() {
		if recover() != nil {
			next, ok = nil, false
		}
	}()
	rr, err := rrule.NewRRule(o)
	if err != nil {
		return nil, false
	}
	return rr.Iterator(), true
}

// pull calls next, turning a panic into a failure.
func pull(next rrule.Next) (t time.Time, ok, failed bool) {
	defer func() {
		if recover() != nil {
			t, ok, failed = time.Time{}, false, true
		}
	}()
	t, ok = next()
	return t, ok, false
}

// walk calls fn with the occurrences in [from, until] in ascending order
// until fn returns false. An error (errSparse, errFailed) ends it early.
//
// The occurrences are the rule's floating times from the start on, each
// placed in the zone by time.Date, keeping only an instant that comes after
// the previous one kept, by at least MinInterval less any spring-forward
// shift between the two. That filter depends on what came before, so a walk
// that does not begin at the start begins at a point clear of any zone
// transition, where every walk agrees (see leadIn).
func (r *Rule) walk(from, until time.Time, fn func(time.Time) bool) error {
	if from.Before(r.start) {
		from = r.start
	}
	if until.Before(from) {
		return nil
	}
	f := r.leadIn(from)
	wFrom := r.wStart
	if f.After(r.start) {
		wFrom = r.floating(f)
	}
	// A floating time two days past until's wall clock cannot land at or
	// before until in any zone.
	wStop := r.floating(until).Add(48 * time.Hour)
	_, untilOff := until.In(r.loc).Zone()
	var last time.Time
	return r.raw(wFrom, wStop, func(w time.Time) bool {
		x := r.resolve(w)
		if x.Before(r.start) {
			return true
		}
		if x.After(until) {
			// Later times land after x less at most a DST shift (a day at
			// most), and not before x at all without a transition between.
			_, off := x.In(r.loc).Zone()
			return off != untilOff && !x.After(until.Add(25*time.Hour))
		}
		if !last.IsZero() && !r.spaced(last, x) {
			return true
		}
		last = x
		if x.Before(from) {
			return true
		}
		return fn(x)
	})
}

// next returns the first occurrence in [from, until].
func (r *Rule) next(from, until time.Time) (x time.Time, found bool, err error) {
	err = r.walk(from, until, func(t time.Time) bool {
		x, found = t, true
		return false
	})
	return x, found, err
}

// spaced reports whether x may follow last: strictly later, and at least
// MinInterval later once a spring-forward shift between the two is added
// back (a daily 09:00 stays daily although one gap is 23 hours).
func (r *Rule) spaced(last, x time.Time) bool {
	if !x.After(last) {
		return false
	}
	gap := x.Sub(last)
	if gap >= r.min {
		return true
	}
	_, ox := x.In(r.loc).Zone()
	_, ol := last.In(r.loc).Zone()
	if ox > ol {
		gap += time.Duration(ox-ol) * time.Second
	}
	return gap >= r.min
}

// leadIn returns where a walk for occurrences from t begins: t itself, or
// earlier when a zone transition is near, so that none lies within
// leadInGuard of the point. Away from transitions the walk's filter keeps
// every occurrence (the rule's spacing was checked on the wall clock), so a
// walk begun there agrees with the walk from the start.
//
// Transitions are found by comparing offsets rather than with
// time.ZoneBounds, which reports boundaries that are not there (Go 1.26
// gives 2040-12-31T00:00Z in America/New_York as one ending at itself).
func (r *Rule) leadIn(t time.Time) time.Time {
	g := r.leadInGuard()
	for range 8 {
		if !t.After(r.start) {
			return r.start
		}
		_, o := t.In(r.loc).Zone()
		clear := true
		for _, d := range [4]time.Duration{-g, -g / 2, g / 2, g} {
			if _, od := t.Add(d).In(r.loc).Zone(); od != o {
				clear = false
				break
			}
		}
		if clear {
			return t
		}
		t = t.Add(-g)
	}
	return r.start
}

// leadInGuard is how far a walk's beginning stays from a zone transition:
// the minimum interval, twice the largest shift there is (24 hours, Samoa
// in 2011) and an hour to spare.
func (r *Rule) leadInGuard() time.Duration { return r.min + 49*time.Hour }

// floating returns t's wall clock in the series' zone as a time in UTC.
func (r *Rule) floating(t time.Time) time.Time {
	_, off := t.In(r.loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// resolve places the floating time w in the series' zone as time.Date does.
func (r *Rule) resolve(w time.Time) time.Time {
	y, m, d := w.Date()
	hh, mm, ss := w.Clock()
	return time.Date(y, m, d, hh, mm, ss, 0, r.loc).UTC()
}

// Checks that keep rrule-go from looping without end, and refuse rules
// that never occur or occur too often.

// maxStepsPerHit bounds how many INTERVAL steps rrule-go may take, on
// average, between two steps that land on a time of day the rule allows.
const maxStepsPerHit = 1440

// checkTimesOfDay looks at sub-daily rules with BYHOUR, BYMINUTE or
// BYSECOND: rrule-go steps INTERVAL by INTERVAL until a step lands on an
// allowed time of day. It refuses a rule where no step ever does (rrule-go
// would loop forever) and one where too few do (every occurrence would cost
// more than maxStepsPerHit steps: FREQ=SECONDLY;INTERVAL=61;BYHOUR=18;
// BYMINUTE=3;BYSECOND=41 lands once in 86400 steps, every 61 days).
func (r *Rule) checkTimesOfDay() error {
	o, s := r.opt, r.wStart
	var unit, day int
	// The hours, minutes and seconds the steps must hit; nil means any.
	var lists [3][]int
	switch o.Freq {
	case rrule.HOURLY:
		unit, day = 3600, 24
		lists = [3][]int{o.Byhour, {0}, {0}}
	case rrule.MINUTELY:
		unit, day = 60, 1440
		lists = [3][]int{o.Byhour, o.Byminute, {0}}
	case rrule.SECONDLY:
		unit, day = 1, 86400
		lists = [3][]int{o.Byhour, o.Byminute, o.Bysecond}
	default:
		return nil
	}
	if lists[0] == nil && lists[1] == nil && lists[2] == nil {
		return nil
	}
	for i, n := range [3]int{24, 60, 60} {
		if lists[i] == nil {
			lists[i] = seq(n)
		}
	}
	// The steps run through the times of day congruent to the start's
	// modulo g, each once per day/g steps.
	g := gcd(o.Interval, day)
	at := ((s.Hour()*3600 + s.Minute()*60 + s.Second()) / unit) % g
	hits := 0
	for _, h := range lists[0] {
		for _, m := range lists[1] {
			for _, sec := range lists[2] {
				if ((h*3600+m*60+sec)/unit)%g == at {
					hits++
				}
			}
		}
	}
	step := human(time.Duration(int64(o.Interval)*int64(unit)) * time.Second)
	switch steps := day / g; {
	case hits == 0:
		return invalidf("never occurs: stepping %s from %s never lands on a time of day %s allows",
			step, s.Format("15:04:05"), r.spec)
	case steps > maxStepsPerHit*hits:
		return invalidf("too sparse: stepping %s from %s lands on a time of day %s allows only %d times in %d steps; "+
			"use a coarser FREQ (such as DAILY with BYHOUR, BYMINUTE and BYSECOND)", step, s.Format("15:04:05"), r.spec, hits, steps)
	}
	return nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// checkSetPos refuses BYSETPOS values beyond every period's set: each
// period would be empty (for sub-daily rules rrule-go would visit every
// one of them up to the year 9999).
func (r *Rule) checkSetPos() error {
	o := r.opt
	if len(o.Bysetpos) == 0 {
		return nil
	}
	size := r.daysPerPeriod()
	switch n := func(l []int) int { return max(len(l), 1) }; {
	case o.Freq < rrule.HOURLY:
		size *= n(o.Byhour) * n(o.Byminute) * n(o.Bysecond)
	case o.Freq == rrule.HOURLY:
		size *= n(o.Byminute) * n(o.Bysecond)
	case o.Freq == rrule.MINUTELY:
		size *= n(o.Bysecond)
	}
	for _, p := range o.Bysetpos {
		if p <= size && -p <= size {
			return nil
		}
	}
	return invalidf("never occurs: BYSETPOS picks beyond the at most %d candidates of each %s of %s",
		size, strings.ToLower(strings.TrimSuffix(r.spec.freq.String(), "LY")), r.spec)
}

// daysPerPeriod is an upper bound on the days one period of the rule
// can hold.
func (r *Rule) daysPerPeriod() int {
	sp, o := r.spec, r.opt
	days := 1
	switch sp.freq {
	case rrule.YEARLY:
		days = 366
	case rrule.MONTHLY:
		days = 31
	case rrule.WEEKLY:
		days = 7
	}
	months := 12
	if sp.freq == rrule.MONTHLY {
		months = 1
	}
	if len(o.Bymonth) > 0 && sp.freq == rrule.YEARLY {
		months = len(o.Bymonth)
		days = min(days, 31*months)
	}
	if len(o.Bymonthday) > 0 && sp.freq <= rrule.MONTHLY {
		days = min(days, len(o.Bymonthday)*months)
	}
	if len(o.Byyearday) > 0 && sp.freq == rrule.YEARLY {
		days = min(days, len(o.Byyearday))
	}
	if len(o.Byweekno) > 0 {
		days = min(days, 7*len(o.Byweekno))
	}
	if len(o.Byweekday) > 0 {
		per := 1 // numbered: one day each per month (YEARLY with BYMONTH) or period
		if o.Byweekday[0].N() == 0 {
			per = map[rrule.Frequency]int{rrule.YEARLY: 53, rrule.MONTHLY: 5, rrule.WEEKLY: 1}[sp.freq]
		} else if sp.freq == rrule.YEARLY && len(o.Bymonth) > 0 {
			per = len(o.Bymonth)
		}
		if sp.freq == rrule.YEARLY && len(o.Bymonth) > 0 && o.Byweekday[0].N() == 0 {
			per = 5 * len(o.Bymonth)
		}
		if per > 0 {
			days = min(days, per*len(o.Byweekday))
		}
	}
	return days
}

// checkDays refuses rules whose day filters together match no day at all,
// with one yearly expansion over a whole 400-year cycle (a millisecond),
// instead of a day-by-day search. Numbered BYDAY values and BYSETPOS are
// left out of the probe: they only narrow it further.
func (r *Rule) checkDays() error {
	sp := r.spec
	var plain []rrule.Weekday
	for _, w := range sp.byDay {
		if w.n == 0 {
			plain = append(plain, rrWeekday(w))
		}
	}
	kinds := 0
	for _, l := range [][]int{sp.byMonth, sp.byWeekNo, sp.byYearDay, sp.byMonthDay} {
		if len(l) > 0 {
			kinds++
		}
	}
	if len(plain) > 0 {
		kinds++
	}
	if kinds < 2 {
		return nil // one kind of filter on its own always matches some day
	}
	next, ok := iterate(rrule.ROption{
		Freq:       rrule.YEARLY,
		Dtstart:    time.Date(windowStart, 1, 1, 0, 0, 0, 0, time.UTC),
		Wkst:       rrWeekday(weekday{day: sp.wkst}),
		Bymonth:    sp.byMonth,
		Byweekno:   sp.byWeekNo,
		Byyearday:  sp.byYearDay,
		Bymonthday: sp.byMonthDay,
		Byweekday:  plain,
		Byhour:     []int{0},
		Byminute:   []int{0},
		Bysecond:   []int{0},
	})
	if !ok {
		return invalidf("pattern %s cannot be expanded", sp)
	}
	if _, found, failed := pull(next); !found || failed {
		var b strings.Builder
		sp.writeDayParts(&b)
		return invalidf("never occurs: no date matches %s", strings.TrimPrefix(b.String(), ";"))
	}
	return nil
}

// checkSpacing refuses rules whose occurrences can come closer than
// MinInterval on the wall clock: by their period (FREQ times INTERVAL)
// and by the gaps between the first sampleSize occurrences.
func (r *Rule) checkSpacing() error {
	if p := r.nominal(); p < r.min {
		return invalidf("%s repeats every %s; occurrences must be at least %s apart", r.spec, human(p), human(r.min))
	}
	var err error
	var prev time.Time
	n := 0
	rerr := r.raw(r.wStart, r.wStart.AddDate(Horizon, 0, 0), func(w time.Time) bool {
		if n > 0 && w.Sub(prev) < r.min {
			err = invalidf("%s has occurrences %s apart (%s and %s); occurrences must be at least %s apart",
				r.spec, human(w.Sub(prev)), prev.Format("2006-01-02 15:04:05"), w.Format("2006-01-02 15:04:05"), human(r.min))
			return false
		}
		prev = w
		n++
		return n < sampleSize
	})
	if rerr != nil {
		return r.unexpandable(rerr)
	}
	return err
}

// unexpandable is the Parse error for an expansion that ended early.
func (r *Rule) unexpandable(err error) error {
	if errors.Is(err, errSparse) {
		return invalidf("too sparse: %s %s", r.spec, err)
	}
	return invalidf("%s cannot be expanded", r.spec)
}
