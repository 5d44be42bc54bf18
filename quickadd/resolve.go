package quickadd

import (
	"slices"
	"time"

	"github.com/taskflow/taskflow/recurrence"
	"github.com/taskflow/taskflow/task"
)

// Default times of day.
const (
	defaultHour = 9  // a date without a time
	todayHour   = 18 // "today" without a time: the end of the working day
	tonightHour = 20 // "tonight" without a time
)

// minRecurrenceInterval is the spacing Parse checks patterns with: the
// lowest RECURRENCE_MIN_INTERVAL an operator may configure. Under the
// default (one minute) the API refuses the sub-minute patterns Parse
// produces for "every 30 seconds".
const minRecurrenceInterval = time.Second

// selection is which items a Result uses: indexes into parser.items, -1
// for none.
type selection struct {
	priority, recur, date, start, clock, zone, until, count int
	used                                                    []bool
	dropped                                                 []bool
}

// choose picks the items that make the Result: the first of each kind
// (every tag and reminder), and drops what does not fit together.
func (p *parser) choose() selection {
	s := selection{priority: -1, recur: -1, date: -1, start: -1, clock: -1, zone: -1, until: -1, count: -1,
		used: make([]bool, len(p.items)), dropped: make([]bool, len(p.items))}
	first := func(slot *int, i int) {
		if *slot < 0 {
			*slot = i
		} else {
			s.dropped[i] = true
		}
	}
	var tags []string
	for i, it := range p.items {
		switch it.kind {
		case kindPriority:
			if s.priority < 0 {
				s.priority = i
			}
		case kindTag:
			if !slices.Contains(tags, it.tag) && len(tags) >= task.MaxTags {
				continue // stays in the title
			}
			tags = append(tags, it.tag)
			s.used[i] = true
		case kindReminder:
			s.used[i] = true
		case kindRecur:
			first(&s.recur, i)
		case kindDate:
			if it.start {
				first(&s.start, i)
			} else {
				first(&s.date, i)
			}
		case kindClock:
			first(&s.clock, i)
		case kindZone:
			if s.clock == i-1 && !s.dropped[i-1] {
				s.zone = i
			} else {
				s.dropped[i] = true
			}
		case kindUntil:
			first(&s.until, i)
		case kindCount:
			first(&s.count, i)
		}
	}
	drop := func(slot *int) {
		if *slot >= 0 {
			s.dropped[*slot] = true
			*slot = -1
		}
	}
	if s.recur < 0 {
		drop(&s.until) // "until friday" alone ends nothing
		drop(&s.count)
		if s.date < 0 {
			s.date, s.start = s.start, -1 // "starting monday": the due date
		}
		drop(&s.start)
	} else {
		if s.date >= 0 && p.items[s.date].date.kind == dInstant {
			drop(&s.date)
		}
		if s.start < 0 {
			s.start, s.date = s.date, -1 // "every day tomorrow": the series starts tomorrow
		}
		drop(&s.date)
	}
	if s.date >= 0 && p.items[s.date].date.kind == dInstant {
		drop(&s.clock) // "in 2 hours at 5pm": the instant wins
		drop(&s.zone)
	}
	for _, i := range []int{s.priority, s.recur, s.date, s.start, s.clock, s.zone, s.until, s.count} {
		if i >= 0 {
			s.used[i] = true
		}
	}
	return s
}

// resolve turns the chosen items into a Result.
func (p *parser) resolve(now time.Time, loc *time.Location) Result {
	s := p.choose()
	res := Result{Priority: string(task.PriorityNone), Tags: []string{}, Reminders: []string{}, Spans: []Span{}}
	zone := loc
	if s.zone >= 0 {
		zone = p.items[s.zone].zone
		res.Timezone = p.items[s.zone].zoneName
	} else {
		res.Timezone = loc.String()
	}
	nowZ := now.In(zone)
	var clock *clockSpec
	if s.clock >= 0 {
		clock = &p.items[s.clock].clock
	}
	if s.priority >= 0 {
		res.Priority = string(p.items[s.priority].priority)
	}
	for i, it := range p.items {
		switch {
		case !s.used[i]:
		case it.kind == kindTag && !slices.Contains(res.Tags, it.tag):
			res.Tags = append(res.Tags, it.tag)
		case it.kind == kindReminder:
			for _, r := range it.reminders {
				if !slices.Contains(res.Reminders, r) && len(res.Reminders) < task.MaxReminders {
					res.Reminders = append(res.Reminders, r)
				}
			}
		}
	}

	if s.recur >= 0 {
		var start *dateSpec
		if s.start >= 0 {
			start = &p.items[s.start].date
		}
		var end *time.Time
		if s.until >= 0 {
			y, m, d := resolveDay(p.items[s.until].date, nowZ, nil)
			e := time.Date(y, m, d, 23, 59, 59, 0, zone)
			end = &e
		}
		n := 0
		if s.count >= 0 {
			n = p.items[s.count].count
		}
		due, pattern, endOK, ok := series(p.items[s.recur].rec, start, clock, n, end, nowZ)
		switch {
		case !ok: // a rule the recurrence package refuses: keep the text, say so
			for _, i := range []int{s.recur, s.start, s.until, s.count} {
				if i >= 0 {
					s.used[i], s.dropped[i] = false, true
				}
			}
			if s.start >= 0 {
				s.used[s.start], s.dropped[s.start] = true, false
				res.DueDate = ptr(dayAt(p.items[s.start].date, clock, nowZ))
			} else if clock != nil {
				res.DueDate = ptr(clockOnly(*clock, nowZ))
			}
		default:
			res.DueDate, res.RecurrencePattern = &due, &pattern
			if !endOK && s.until >= 0 {
				s.used[s.until], s.dropped[s.until] = false, true
			} else {
				res.RecurrenceEndDate = end
			}
		}
	} else if s.date >= 0 {
		d := p.items[s.date].date
		if d.kind == dInstant {
			res.DueDate = ptr(instant(d, nowZ))
		} else {
			res.DueDate = ptr(dayAt(d, clock, nowZ))
		}
	} else if clock != nil {
		res.DueDate = ptr(clockOnly(*clock, nowZ))
	}

	for i, it := range p.items {
		if !s.used[i] {
			continue
		}
		res.Spans = append(res.Spans, Span{Start: p.toks[it.from].start, End: p.toks[it.to-1].end,
			Field: field[it.kind], Text: p.text[p.toks[it.from].start:p.toks[it.to-1].end]})
	}
	slices.SortFunc(res.Spans, func(a, b Span) int { return a.Start - b.Start })
	res.Title = tidyTitle(p.text, res.Spans)
	res.Unparsed = p.unparsed(s, res.Spans, now)
	return res
}

func ptr(t time.Time) *time.Time { return &t }

// civil is a calendar day, as midnight UTC (so that day arithmetic never
// meets a DST change).
func civil(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// resolveDay is the day d names, seen from nowZ. at is the time of day
// meant, if known: a bare weekday that is today moves to next week when
// that time has passed.
func resolveDay(d dateSpec, nowZ time.Time, at *[2]int) (int, time.Month, int) {
	ty, tm, td := nowZ.Date()
	today := civil(ty, tm, td)
	weekday := today.Weekday()
	monday := today.AddDate(0, 0, -((int(weekday) + 6) % 7))
	var r time.Time
	switch d.kind {
	case dRelative:
		r = addMonths(today, d.months).AddDate(0, 0, d.days)
	case dWeekday:
		if d.next {
			r = monday.AddDate(0, 0, 7+(int(d.wd)+6)%7)
			break
		}
		delta := (int(d.wd) - int(weekday) + 7) % 7
		if delta == 0 && at != nil && !time.Date(ty, tm, td, at[0], at[1], 0, 0, nowZ.Location()).After(nowZ) {
			delta = 7
		}
		r = today.AddDate(0, 0, delta)
	case dNextWeek:
		r = monday.AddDate(0, 0, 7)
	case dNextMonth:
		r = civil(ty, tm+1, 1)
	case dNextYear:
		r = civil(ty+1, 1, 1)
	case dEndOfMonth:
		r = civil(ty, tm+1, 0)
	case dEndOfYear:
		r = civil(ty, 12, 31)
	case dWeekend:
		switch {
		case d.next:
			r = monday.AddDate(0, 0, 12)
		case weekday == time.Sunday:
			r = today
		default:
			r = today.AddDate(0, 0, int(time.Saturday-weekday))
		}
	case dMonthDay:
		if d.year != 0 {
			r = civil(d.year, d.month, d.day)
			break
		}
		r = today
		for y := ty; y <= ty+8; y++ { // 29 February comes at least every 8 years
			if c := civil(y, d.month, d.day); validDate(y, d.month, d.day) && !c.Before(today) {
				r = c
				break
			}
		}
	case dDayOfMonth:
		r = today
		for i := 0; i <= 12; i++ {
			first := civil(ty, tm+time.Month(i), 1)
			if d.day <= daysIn(first.Year(), first.Month()) {
				if c := civil(first.Year(), first.Month(), d.day); !c.Before(today) {
					r = c
					break
				}
			}
		}
	case dMonth:
		y := ty
		if d.year != 0 {
			y = d.year
		} else if d.month < tm {
			y++
		}
		r = civil(y, d.month+1, 0)
	default: // dToday, dTonight
		r = today
	}
	return r.Date()
}

// addMonths adds n months to a day, clamping to the last day of the
// target month (31 January + 1 month is 28 or 29 February).
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := civil(y, m+time.Month(n), 1)
	return civil(first.Year(), first.Month(), min(d, daysIn(first.Year(), first.Month())))
}

// timeOfDay is the clock time a date phrase and a clock phrase mean
// together: the clock, else the part of the day; nil when neither is given.
func timeOfDay(d dateSpec, clock *clockSpec) *[2]int {
	switch {
	case clock != nil:
		h, m := clock.hm(d.kind == dTonight || d.part.pm)
		return &[2]int{h, m}
	case d.part.name != "":
		return &[2]int{d.part.hour, 0}
	}
	return nil
}

// dayAt is the due instant of a date phrase with an optional clock. A
// date without a time is at 09:00, except that today is at 18:00 (tonight
// at 20:00) or, when that has passed, the next whole hour, at the latest
// 23:59.
func dayAt(d dateSpec, clock *clockSpec, nowZ time.Time) time.Time {
	at := timeOfDay(d, clock)
	y, m, dd := resolveDay(d, nowZ, at)
	loc := nowZ.Location()
	if at != nil {
		return time.Date(y, m, dd, at[0], at[1], 0, 0, loc)
	}
	ty, tm, td := nowZ.Date()
	if y != ty || m != tm || dd != td {
		return time.Date(y, m, dd, defaultHour, 0, 0, 0, loc)
	}
	h := todayHour
	if d.kind == dTonight {
		h = tonightHour
	}
	if t := time.Date(y, m, dd, h, 0, 0, 0, loc); t.After(nowZ) {
		return t
	}
	if t := time.Date(y, m, dd, nowZ.Hour()+1, 0, 0, 0, loc); t.Day() == dd && t.After(nowZ) {
		return t
	}
	return time.Date(y, m, dd, 23, 59, 0, 0, loc)
}

// clockOnly is a time without a date: today if it is still ahead, else
// tomorrow. Midnight is the end of today.
func clockOnly(c clockSpec, nowZ time.Time) time.Time {
	h, m := c.hm(false)
	y, mo, d := nowZ.Date()
	t := time.Date(y, mo, d, h, m, 0, 0, nowZ.Location())
	if !t.After(nowZ) {
		t = time.Date(y, mo, d+1, h, m, 0, 0, nowZ.Location())
	}
	return t
}

// instant is "in 30 minutes": now plus the calendar days and months, plus
// the duration, rounded up to the minute (to the second when the duration
// has seconds). Up, so that "in 10 minutes, remind me 10 minutes before"
// does not put the reminder a few seconds in the past.
func instant(d dateSpec, nowZ time.Time) time.Time {
	t := nowZ
	if d.months != 0 || d.days != 0 {
		y, m, dd := addMonths(civil(nowZ.Date()), d.months).AddDate(0, 0, d.days).Date()
		t = time.Date(y, m, dd, nowZ.Hour(), nowZ.Minute(), nowZ.Second(), nowZ.Nanosecond(), nowZ.Location())
	}
	t = t.Add(d.dur)
	unit := time.Second
	if d.dur%time.Minute == 0 {
		unit = time.Minute
	}
	if r := t.Truncate(unit); r.Before(t) {
		return r.Add(unit)
	}
	return t
}

// series works out a recurring task: its first occurrence (the due date)
// and its canonical pattern. The first occurrence is the first day the
// rule selects on or after the start (today, or the day after "starting"),
// at the given time (09:00 when none; the next whole hour, minute or
// second for hourly, minutely and secondly rules); the interval counts
// from there ("every other tuesday" on a Wednesday is next Tuesday, then
// every two weeks). ok is false when the recurrence package refuses the
// rule; endOK is false when end comes before the first occurrence (the
// series then has no end).
func series(r recSpec, start *dateSpec, clock *clockSpec, count int, end *time.Time, nowZ time.Time) (due time.Time, pattern string, endOK, ok bool) {
	loc := nowZ.Location()
	var at *[2]int
	switch {
	case clock != nil:
		pm := r.part.pm || (start != nil && (start.part.pm || start.kind == dTonight))
		h, m := clock.hm(pm)
		at = &[2]int{h, m}
	case r.part.name != "":
		at = &[2]int{r.part.hour, 0}
	case start != nil:
		at = timeOfDay(*start, nil)
	}
	ty, tm, td := nowZ.Date()
	base := civil(ty, tm, td)
	if start != nil {
		if b := civil(resolveDay(*start, nowZ, at)); b.After(base) {
			base = b
		}
	}
	by, bm, bd := base.Date()
	var from time.Time
	h, m := defaultHour, 0
	switch {
	case at != nil:
		h, m = at[0], at[1]
		from = time.Date(by, bm, bd, h, m, 0, 0, loc)
	case r.subDaily() && base.Equal(civil(ty, tm, td)):
		step := map[string]time.Duration{"HOURLY": time.Hour, "MINUTELY": time.Minute, "SECONDLY": time.Second}[r.freq]
		from = nowZ
		if rest := time.Duration(nowZ.Minute())*time.Minute + time.Duration(nowZ.Second())*time.Second +
			time.Duration(nowZ.Nanosecond()); rest%step != 0 {
			from = nowZ.Add(step - rest%step)
		}
	case r.subDaily():
		from = time.Date(by, bm, bd, 0, 0, 0, 0, loc)
	default:
		from = time.Date(by, bm, bd, h, m, 0, 0, loc)
	}
	if from.Before(nowZ) { // today's time has passed: the same wall-clock time tomorrow
		from = time.Date(by, bm, bd+1, h, m, 0, 0, loc)
	}
	opt := recurrence.Options{Start: from, Loc: loc, MinInterval: minRecurrenceInterval}
	probe, err := recurrence.Parse(r.rrule(1, 0), opt)
	if err != nil {
		return time.Time{}, "", false, false
	}
	first, _ := probe.First()
	opt.Start, opt.End = first, end
	rule, err := recurrence.Parse(r.rrule(r.interval, count), opt)
	endOK = end != nil
	if err != nil && end != nil {
		opt.End, endOK = nil, false
		rule, err = recurrence.Parse(r.rrule(r.interval, count), opt)
	}
	if err != nil {
		return time.Time{}, "", false, false
	}
	first, _ = rule.First()
	return first.In(loc), rule.RRule(), endOK, true
}
