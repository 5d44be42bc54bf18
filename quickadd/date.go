package quickadd

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/taskflow/taskflow/recurrence"
)

// dateKind is the shape of a date phrase; resolveDate turns it into a day.
type dateKind int

const (
	dToday      dateKind = iota + 1
	dTonight             // today, 20:00
	dRelative            // today plus months and days ("tomorrow", "in 3 days", "in 2 months")
	dInstant             // now plus a duration (and calendar days): "in 30 minutes"
	dWeekday             // the next such weekday on or after today; next: the one in next week
	dNextWeek            // Monday of next week
	dNextMonth           // the 1st of next month
	dNextYear            // 1 January of next year
	dEndOfMonth          // the last day of this month
	dEndOfYear           // 31 December of this year
	dWeekend             // Saturday on or after today (today on a Sunday); next: of next week
	dMonthDay            // month and day, in year, or the next such day on or after today when year is 0
	dDayOfMonth          // the next day-th on or after today ("the 15th")
	dMonth               // a whole month ("until June"): year, or the next such month
)

// dateSpec is a date phrase before it is resolved against now.
type dateSpec struct {
	kind         dateKind
	months, days int           // dRelative, dInstant
	dur          time.Duration // dInstant
	wd           time.Weekday
	next         bool
	year         int
	month        time.Month
	day          int
	part         partOfDay // "tomorrow morning"; zero when not given
}

// takesOn reports whether "on" may introduce the date ("on friday", not
// "on tomorrow").
func (d dateSpec) takesOn() bool {
	switch d.kind {
	case dWeekday, dMonthDay, dDayOfMonth, dWeekend:
		return true
	}
	return false
}

// date: [due [on|by] | by | on] <date>.
func (p *parser) date(i int) int {
	j, prefixed := i, false
	switch {
	case p.is(j, "due"):
		j++
		prefixed = true
		if p.is(j, "on", "by") {
			j++
		}
	case p.is(j, "by", "on"):
		j++
		prefixed = true
	}
	n, d, ok := p.dateAt(j, prefixed)
	if !ok || (prefixed && p.is(j-1, "on") && !d.takesOn()) {
		return 0
	}
	p.add(item{kind: kindDate, from: i, to: j + n, date: d})
	return j + n - i
}

// dateAt reads a date phrase at j, optionally followed by a part of the day
// ("tomorrow morning"). prefixed says a word such as "on" or "until" came
// before it, which lets abbreviated weekdays ("sat") count.
func (p *parser) dateAt(j int, prefixed bool) (int, dateSpec, bool) {
	n, d, ok := p.dateCore(j, prefixed)
	if !ok {
		return 0, dateSpec{}, false
	}
	if d.kind != dInstant && d.kind != dTonight && d.part.name == "" {
		if pd, ok := partsOfDay[p.w(j+n)]; ok {
			d.part = pd
			n++
		}
	}
	return n, d, true
}

var (
	isoDate = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	usDate  = regexp.MustCompile(`^(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?$`)
)

func (p *parser) dateCore(j int, prefixed bool) (int, dateSpec, bool) {
	w := p.w(j)
	abbrev := weekdayForm{abbrev: true}
	switch w {
	case "today":
		return 1, dateSpec{kind: dToday}, true
	case "tonight":
		return 1, dateSpec{kind: dTonight}, true
	case "tomorrow", "tmrw", "tmr", "tomorow":
		return 1, dateSpec{kind: dRelative, days: 1}, true
	case "this":
		if pd, ok := partsOfDay[p.w(j+1)]; ok {
			return 2, dateSpec{kind: dToday, part: pd}, true
		}
		if p.is(j+1, "weekend") {
			return 2, dateSpec{kind: dWeekend}, true
		}
		if wd, _, ok := weekday(p.w(j+1), abbrev); ok {
			return 2, dateSpec{kind: dWeekday, wd: wd}, true
		}
	case "next":
		if wd, _, ok := weekday(p.w(j+1), abbrev); ok {
			return 2, dateSpec{kind: dWeekday, wd: wd, next: true}, true
		}
		switch p.w(j + 1) {
		case "week":
			return 2, dateSpec{kind: dNextWeek}, true
		case "month":
			return 2, dateSpec{kind: dNextMonth}, true
		case "year":
			return 2, dateSpec{kind: dNextYear}, true
		case "weekend":
			return 2, dateSpec{kind: dWeekend, next: true}, true
		}
	case "in", "within":
		if n, d, ok := p.relative(j + 1); ok {
			return n + 1, d, true
		}
	case "day":
		if p.is(j+1, "after") && p.is(j+2, "tomorrow") {
			return 3, dateSpec{kind: dRelative, days: 2}, true
		}
	}
	k := j
	if p.is(k, "the") {
		k++
	}
	if p.is(k, "day") && p.is(k+1, "after") && p.is(k+2, "tomorrow") {
		return k + 3 - j, dateSpec{kind: dRelative, days: 2}, true
	}
	if p.is(k, "end") && p.is(k+1, "of") {
		m := k + 2
		if p.is(m, "the", "this") {
			m++
		}
		switch p.w(m) {
		case "month":
			return m + 1 - j, dateSpec{kind: dEndOfMonth}, true
		case "year":
			return m + 1 - j, dateSpec{kind: dEndOfYear}, true
		}
	}
	if k > j && p.is(k, "weekend") && prefixed {
		return 2, dateSpec{kind: dWeekend}, true
	}
	// An abbreviated weekday without a prefix counts when a time follows
	// ("wed at 9"), not in "sat in the sun".
	beforeClock := func(k int) bool {
		if _, _, ok := p.clockAt(k, false); ok {
			return true
		}
		_, _, ok := p.clockAt(k+1, true)
		return ok && p.is(k, "at", "@")
	}
	if wd, plural, ok := weekday(w, weekdayForm{abbrev: prefixed || beforeClock(j+1)}); ok && !plural {
		if p.is(j+1, "next", "this") && p.is(j+2, "week") {
			return 3, dateSpec{kind: dWeekday, wd: wd, next: p.is(j+1, "next")}, true
		}
		return 1, dateSpec{kind: dWeekday, wd: wd}, true
	}
	// "3 days from now"
	if n, d, ok := p.relative(j); ok && p.is(j+n, "from") && p.is(j+n+1, "now") {
		return n + 2, d, true
	}
	if m := isoDate.FindStringSubmatch(w); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		if validDate(y, time.Month(mo), d) {
			return 1, dateSpec{kind: dMonthDay, year: y, month: time.Month(mo), day: d}, true
		}
	}
	if m := usDate.FindStringSubmatch(w); m != nil {
		mo, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		y := 0
		if m[3] != "" {
			y, _ = strconv.Atoi(m[3])
			if len(m[3]) == 2 {
				y += 2000
			}
		}
		if validDate(y, time.Month(mo), d) {
			return 1, dateSpec{kind: dMonthDay, year: y, month: time.Month(mo), day: d}, true
		}
	}
	if n, d, ok := p.monthDay(j); ok {
		return n, d, true
	}
	// "the 15th" (of no month): the next 15th.
	if p.is(j, "the") {
		if d, ok := ordinal(p.w(j + 1)); ok && d > 0 && !allDigits(p.w(j+1)) && !p.is(j+2, "of") {
			return 2, dateSpec{kind: dDayOfMonth, day: d}, true
		}
	}
	return 0, dateSpec{}, false
}

// monthDay reads "dec 5", "december 5th 2026", "5 dec", "5th of
// december", "the 5th of december".
func (p *parser) monthDay(j int) (int, dateSpec, bool) {
	withYear := func(n int, m time.Month, d int) (int, dateSpec, bool) {
		y := 0
		if yy, ok := yearNumber(p.w(j + n)); ok {
			y = yy
			n++
		}
		if !validDate(y, m, d) {
			return 0, dateSpec{}, false
		}
		return n, dateSpec{kind: dMonthDay, year: y, month: m, day: d}, true
	}
	if m, ok := month(p.w(j)); ok {
		if d, ok := dayNumber(p.w(j + 1)); ok {
			return withYear(2, m, d)
		}
		if p.is(j+1, "the") {
			if d, ok := dayNumber(p.w(j + 2)); ok && !allDigits(p.w(j+2)) {
				return withYear(3, m, d)
			}
		}
		return 0, dateSpec{}, false
	}
	k := j
	if p.is(k, "the") {
		k++
	}
	d, ok := dayNumber(p.w(k))
	if !ok {
		return 0, dateSpec{}, false
	}
	k++
	if p.is(k, "of") {
		k++
	}
	m, ok := month(p.w(k))
	if !ok {
		return 0, dateSpec{}, false
	}
	return withYear(k+1-j, m, d)
}

// yearNumber reads a four-digit year from 1900 to 2199.
func yearNumber(w string) (int, bool) {
	if len(w) != 4 || !allDigits(w) {
		return 0, false
	}
	y, _ := strconv.Atoi(w)
	return y, y >= 1900 && y < 2200
}

// validDate reports whether day d exists in month m of year y; with y 0,
// whether it exists in some year (29 February does).
func validDate(y int, m time.Month, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	if y == 0 {
		y = 2000 // a leap year
	}
	return d <= daysIn(y, m)
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// relative reads "3 days", "an hour", "2 hours 30 minutes", "half an hour"
// at j (after "in", or before "from now").
func (p *parser) relative(j int) (int, dateSpec, bool) {
	if p.is(j, "half") && p.is(j+1, "an") && p.is(j+2, "hour") {
		return 3, dateSpec{kind: dInstant, dur: 30 * time.Minute}, true
	}
	d := dateSpec{kind: dRelative}
	k := j
	for {
		article := p.is(k, "a", "an", "one")
		c, u, ok := p.amount(k, true)
		if !ok || p.is(k, "the") {
			break
		}
		switch u {
		case monthUnit:
			d.months += c.n
		case year:
			d.months += 12 * c.n
		case week:
			d.days += 7 * c.n
		case day:
			d.days += c.n
		default:
			d.dur += time.Duration(c.n) * u.duration()
		}
		k += c.tokens
		if article {
			break
		}
		if p.is(k, "and") {
			if _, _, ok := p.amount(k+1, false); ok {
				k++
			}
		}
	}
	const maxDays = 100 * 366 // keep due dates well inside what JSON and the database take
	if k == j || d.months > 1200 || d.days > maxDays || d.dur > maxDays*24*time.Hour {
		return 0, dateSpec{}, false
	}
	if d.dur > 0 {
		d.kind = dInstant
	}
	return k - j, d, true
}

// clockSpec is a time of day as written.
type clockSpec struct {
	hour, min int
	mer       byte // 'a' (am), 'p' (pm) or 0
	padded    bool // written with a leading zero ("05:00"): the 24-hour clock
	part      partOfDay
	noon      bool
	midnight  bool
}

var clockRe = regexp.MustCompile(`^(\d{1,2})(?::(\d{2}))?(am|pm|a\.m|p\.m)?$`)

// clockPhrase: [at | @ | by | around] <clock> [in the morning | …] [zone].
func (p *parser) clockPhrase(i int) int {
	j := i
	bare := false
	switch {
	case p.is(j, "at", "@", "around"):
		j++
		bare = true
	case p.is(j, "by"):
		j++
	}
	n, c, ok := p.clockAt(j, bare)
	if !ok {
		return 0
	}
	j += n
	switch {
	case p.is(j, "in") && p.is(j+1, "the") && partsOfDay[p.w(j+2)].name != "" && c.mer == 0:
		c.part = partsOfDay[p.w(j+2)]
		j += 3
	case p.is(j, "at") && p.is(j+1, "night") && c.mer == 0:
		c.part = partsOfDay["night"]
		j += 2
	}
	p.add(item{kind: kindClock, from: i, to: j, clock: c})
	if loc, name, ok := p.zoneAt(j); ok {
		p.add(item{kind: kindZone, from: j, to: j + 1, zone: loc, zoneName: name})
		j++
	}
	return j - i
}

// clockAt reads 9am, 9 am, 9:30pm, 17:00, noon, midnight; a bare hour
// ("9", "five", "9 o'clock") only when bare (after "at").
func (p *parser) clockAt(j int, bare bool) (int, clockSpec, bool) {
	switch p.w(j) {
	case "noon", "midday":
		return 1, clockSpec{hour: 12, noon: true}, true
	case "midnight":
		return 1, clockSpec{midnight: true}, true
	}
	m := clockRe.FindStringSubmatch(p.w(j))
	if n, ok := numberWords[p.w(j)]; ok && bare && n <= 12 { // "at five"
		m = []string{p.w(j), strconv.Itoa(n), "", ""}
	}
	if m == nil {
		return 0, clockSpec{}, false
	}
	c := clockSpec{padded: len(m[1]) == 2 && m[1][0] == '0'}
	c.hour, _ = strconv.Atoi(m[1])
	hasMin := m[2] != ""
	if hasMin {
		c.min, _ = strconv.Atoi(m[2])
	}
	mer := m[3]
	n := 1
	if mer == "" && p.is(j+1, "am", "pm", "a.m", "p.m") {
		mer = p.w(j + 1)
		n++
	}
	if k := j + n - 1; (mer == "a.m" || mer == "p.m") && !strings.HasSuffix(p.raw(k), ".") &&
		p.toks[k].end < len(p.text) && p.text[p.toks[k].end] == '.' {
		p.toks[k].end++ // "9 a.m." ends with its dot, which lex took for punctuation
	}
	if mer == "" && !hasMin && p.is(j+n, "o'clock", "oclock") {
		n++
		bare = true
	}
	switch {
	case c.min > 59:
		return 0, clockSpec{}, false
	case mer != "":
		if c.hour < 1 || c.hour > 12 {
			return 0, clockSpec{}, false
		}
		c.mer = mer[0]
	case c.hour > 23 || (!hasMin && !bare):
		return 0, clockSpec{}, false
	}
	return n, c, true
}

// hm is the clock time on the 24-hour clock; 24:00 is midnight at the end
// of the day. pm says the context ("tonight", "evening") puts a time
// without am/pm after noon.
func (c clockSpec) hm(pm bool) (int, int) {
	h := c.hour
	switch {
	case c.midnight:
		return 24, 0
	case c.noon:
		return 12, 0
	case c.mer == 'a':
		return h % 12, c.min
	case c.mer == 'p':
		return h%12 + 12, c.min
	case c.part.name != "":
		if c.part.pm && h >= 1 && h <= 11 {
			h += 12
		}
		if c.part.name == "night" && h == 12 {
			h = 24
		}
		return h, c.min
	case pm && h >= 1 && h <= 11:
		return h + 12, c.min
	case !c.padded && h >= 1 && h <= 7:
		return h + 12, c.min
	}
	return h, c.min
}

var zoneNameRe = regexp.MustCompile(`^[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+){1,2}$`)

// zoneAt reads a time zone at j: an abbreviation (EST, CET, UTC; the
// two-letter ones only in capitals) or an IANA name ("Europe/Berlin",
// also typed in lower case).
func (p *parser) zoneAt(j int) (*time.Location, string, bool) {
	raw, w := p.raw(j), p.w(j)
	name, ok := zoneAbbrevs[w]
	switch {
	case ok && len(w) == 2 && raw != strings.ToUpper(raw):
		return nil, "", false
	case ok:
	case zoneNameRe.MatchString(raw):
		name = raw
	default:
		return nil, "", false
	}
	for _, n := range []string{name, canonicalZone(name)} {
		if loc, err := recurrence.LoadLocation(n); err == nil {
			return loc, n, true
		}
	}
	return nil, "", false
}

// canonicalZone capitalises the parts of a zone name typed in lower case:
// america/new_york is America/New_York.
func canonicalZone(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return string(b)
}
