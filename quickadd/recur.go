package quickadd

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// recSpec is a recurrence phrase as the RRULE parts it means.
type recSpec struct {
	freq       string // DAILY, WEEKLY, …
	interval   int
	byDay      []string // BYDAY values: MO, 1MO, -1FR
	byMonthDay []int
	byMonth    time.Month
	part       partOfDay // "every morning": the time of day
}

func (r recSpec) subDaily() bool {
	return r.freq == "HOURLY" || r.freq == "MINUTELY" || r.freq == "SECONDLY"
}

// rrule writes the rule; the recurrence package canonicalises it.
func (r recSpec) rrule(interval, count int) string {
	var b strings.Builder
	b.WriteString("FREQ=" + r.freq)
	if interval > 1 {
		b.WriteString(";INTERVAL=" + strconv.Itoa(interval))
	}
	if count > 0 {
		b.WriteString(";COUNT=" + strconv.Itoa(count))
	}
	if r.byMonth > 0 {
		b.WriteString(";BYMONTH=" + strconv.Itoa(int(r.byMonth)))
	}
	if len(r.byMonthDay) > 0 {
		s := make([]string, len(r.byMonthDay))
		for i, d := range r.byMonthDay {
			s[i] = strconv.Itoa(d)
		}
		b.WriteString(";BYMONTHDAY=" + strings.Join(s, ","))
	}
	if len(r.byDay) > 0 {
		b.WriteString(";BYDAY=" + strings.Join(r.byDay, ","))
	}
	return b.String()
}

var (
	weekdaysCodes = []string{"MO", "TU", "WE", "TH", "FR"}
	weekendCodes  = []string{"SA", "SU"}
)

// recurrence: [on] (every … | each … | daily | weekly | … | the 1st of every
// month | last friday of the month | mondays and thursdays), then what the
// frequency may be narrowed by (weekly on mon, monthly on the 15th, yearly
// on march 14) and a part of the day (every monday morning).
func (p *parser) recurrence(i int) int {
	j := i
	if p.is(j, "on") {
		j++
	}
	n, r, ok := p.recurCore(j)
	if !ok {
		return 0
	}
	j += n
	j += p.narrow(j, &r)
	if r.part.name == "" && !r.subDaily() {
		if pd, ok := partsOfDay[p.w(j)]; ok {
			r.part = pd
			j++
		}
	}
	p.add(item{kind: kindRecur, from: i, to: j, rec: r})
	return j - i
}

func (p *parser) recurCore(j int) (int, recSpec, bool) {
	r := recSpec{interval: 1}
	switch p.w(j) {
	case "every", "each":
		n, r, ok := p.every(j + 1)
		return n + 1, r, ok
	case "daily":
		r.freq = "DAILY"
	case "nightly":
		r.freq, r.part = "DAILY", partsOfDay["night"]
	case "weekly":
		r.freq = "WEEKLY"
	case "biweekly", "bi-weekly", "fortnightly":
		r.freq, r.interval = "WEEKLY", 2
	case "monthly":
		r.freq = "MONTHLY"
	case "quarterly":
		r.freq, r.interval = "MONTHLY", 3
	case "yearly", "annually":
		r.freq = "YEARLY"
	case "hourly":
		r.freq = "HOURLY"
	case "weekdays":
		r.freq, r.byDay = "WEEKLY", weekdaysCodes
	case "weekends":
		r.freq, r.byDay = "WEEKLY", weekendCodes
	default:
		if n, r, ok := p.ofTheMonth(j); ok {
			return n, r, true
		}
		if n, days, ok := p.weekdayList(j, weekdayForm{plural: true}, true); ok {
			return n, recSpec{freq: "WEEKLY", interval: 1, byDay: days}, true
		}
		return 0, recSpec{}, false
	}
	return 1, r, true
}

// every reads what follows "every": other, a count, an ordinal weekday, a
// weekday list, weekday(s), weekend, a part of the day, a unit, or a month
// and day.
func (p *parser) every(j int) (int, recSpec, bool) {
	r := recSpec{interval: 1}
	k := j
	abbrev := weekdayForm{abbrev: true, plural: true}
	if n, u, ok := compact(p.w(j)); ok { // every 15m
		if !r.setUnit(u) || n < 1 {
			return 0, recSpec{}, false
		}
		r.interval = n
		return 1, r, true
	}
	switch w := p.w(j); w {
	case "other":
		r.interval = 2
		k++
	default:
		if n, ok := number(w); ok && w != "one" {
			if _, ok := unitWords[p.w(j+1)]; ok && n >= 1 {
				r.interval = n
				k++
			}
			break
		}
		o, ok := ordinal(w)
		if !ok {
			break
		}
		if wd, _, ok := weekday(p.w(j+1), abbrev); ok {
			if o > 5 {
				return 0, recSpec{}, false
			}
			k = j + 2
			if p.is(k, "of") && p.is(k+1, "the", "every", "each") && p.is(k+2, "month") {
				k += 3
			}
			return k - j, recSpec{freq: "MONTHLY", interval: 1, byDay: []string{strconv.Itoa(o) + dayCodes[wd]}}, true
		}
		if _, ok := unitWords[p.w(j+1)]; ok && o > 1 && w != "second" {
			r.interval = o
			k++
		}
	}
	w := p.w(k)
	if n, days, ok := p.weekdayList(k, abbrev, false); ok {
		r.freq, r.byDay = "WEEKLY", days
		return k + n - j, r, true
	}
	switch w {
	case "weekday", "weekdays":
		r.freq, r.byDay = "WEEKLY", weekdaysCodes
	case "weekend", "weekends":
		r.freq, r.byDay = "WEEKLY", weekendCodes
	default:
		if pd, ok := partsOfDay[w]; ok && r.interval == 1 {
			r.freq, r.part = "DAILY", pd
			break
		}
		if u, ok := unitWords[w]; ok {
			if !r.setUnit(u) {
				return 0, recSpec{}, false
			}
			break
		}
		if n, d, ok := p.monthDay(k); ok && d.year == 0 && r.interval == 1 {
			r.freq, r.byMonth, r.byMonthDay = "YEARLY", d.month, []int{d.day}
			return k + n - j, r, true
		}
		return 0, recSpec{}, false
	}
	return k + 1 - j, r, true
}

var unitFreqs = map[unit]string{second: "SECONDLY", minute: "MINUTELY", hour: "HOURLY", day: "DAILY",
	week: "WEEKLY", monthUnit: "MONTHLY", year: "YEARLY"}

func (r *recSpec) setUnit(u unit) bool {
	r.freq = unitFreqs[u]
	return r.freq != ""
}

// narrow reads what narrows a frequency: weekly on mon and thu, monthly on
// the 1st and 15th / on the last day / on the first monday, yearly on march
// 14. It returns the tokens it took.
func (p *parser) narrow(j int, r *recSpec) int {
	if !p.is(j, "on") {
		return 0
	}
	switch {
	case r.freq == "WEEKLY" && len(r.byDay) == 0:
		if n, days, ok := p.weekdayList(j+1, weekdayForm{abbrev: true, plural: true}, false); ok {
			r.byDay = days
			return n + 1
		}
	case r.freq == "MONTHLY" && len(r.byDay) == 0 && len(r.byMonthDay) == 0:
		k := j + 1
		if p.is(k, "the") {
			k++
		}
		if o, ok := ordinal(p.w(k)); ok && o <= 5 {
			if wd, _, ok := weekday(p.w(k+1), weekdayForm{abbrev: true}); ok {
				r.byDay = []string{strconv.Itoa(o) + dayCodes[wd]}
				return k + 2 - j
			}
		}
		if n, days, ok := p.monthDayList(k); ok {
			r.byMonthDay = days
			k += n
			if p.is(k, "day", "days") {
				k++
			}
			return k - j
		}
	case r.freq == "YEARLY" && r.byMonth == 0 && len(r.byMonthDay) == 0:
		if n, d, ok := p.monthDay(j + 1); ok && d.year == 0 {
			r.byMonth, r.byMonthDay = d.month, []int{d.day}
			return n + 1
		}
	}
	return 0
}

// ofTheMonth reads "[the] 1st [and 15th] [day] of every month", "the last
// day of the month", "[the] first monday of every month", "last friday of
// the month", also "of every other month".
func (p *parser) ofTheMonth(j int) (int, recSpec, bool) {
	k := j
	if p.is(k, "the") {
		k++
	}
	monthly := func(m int) (int, int, bool) { // tokens taken by "of every [other] month" at m, interval
		if !p.is(m, "of") {
			return 0, 0, false
		}
		switch {
		case p.is(m+1, "every", "each", "the") && p.is(m+2, "month"):
			return 3, 1, true
		case p.is(m+1, "every") && p.is(m+2, "other") && p.is(m+3, "month"):
			return 4, 2, true
		}
		return 0, 0, false
	}
	if o, ok := ordinal(p.w(k)); ok && o <= 5 {
		if wd, _, ok := weekday(p.w(k+1), weekdayForm{abbrev: true}); ok {
			if n, iv, ok := monthly(k + 2); ok {
				return k + 2 + n - j, recSpec{freq: "MONTHLY", interval: iv, byDay: []string{strconv.Itoa(o) + dayCodes[wd]}}, true
			}
			return 0, recSpec{}, false
		}
	}
	if n, days, ok := p.monthDayList(k); ok {
		m := k + n
		if p.is(m, "day", "days") {
			m++
		}
		if n, iv, ok := monthly(m); ok {
			return m + n - j, recSpec{freq: "MONTHLY", interval: iv, byMonthDay: days}, true
		}
	}
	return 0, recSpec{}, false
}

// monthDayList reads days of the month: "1st", "15", "1st and 15th", "last
// day" (-1).
func (p *parser) monthDayList(k int) (int, []int, bool) {
	var days []int
	j := k
	for {
		switch d, ok := dayNumber(p.w(j)); {
		case ok:
			days = append(days, d)
			j++
		case p.is(j, "last") && p.is(j+1, "day"):
			days = append(days, -1)
			j += 2
		default:
			if len(days) > 0 && p.is(j-1, "and", "&") {
				j--
			}
			if len(days) == 0 {
				return 0, nil, false
			}
			slices.Sort(days)
			return j - k, slices.Compact(days), true
		}
		if p.is(j, "and", "&") {
			j++
		}
	}
}

// weekdayList reads "mon", "mon and thu", "monday, wednesday & friday",
// "mondays and thursdays" (requirePlural: every name in the plural).
func (p *parser) weekdayList(j int, f weekdayForm, requirePlural bool) (int, []string, bool) {
	var days []string
	k := j
	for {
		d, plural, ok := weekday(p.w(k), f)
		if !ok || (requirePlural && !plural) {
			if len(days) > 0 && p.is(k-1, "and", "&", "or") {
				k--
			}
			break
		}
		if !slices.Contains(days, dayCodes[d]) {
			days = append(days, dayCodes[d])
		}
		k++
		if p.is(k, "and", "&", "or") {
			k++
		}
	}
	if len(days) == 0 {
		return 0, nil, false
	}
	return k - j, days, true
}
