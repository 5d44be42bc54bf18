package recurrence

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Limits on patterns. They are part of the public contract.
const (
	// MaxPatternLen is the longest pattern Parse accepts, in bytes.
	MaxPatternLen = 500
	// MaxCount is the largest COUNT accepted.
	MaxCount = 10_000
)

// weekday is one BYDAY value.
type weekday struct {
	day int // 0 Monday … 6 Sunday (RFC 5545 and rrule-go order)
	n   int // 0: every such day of the period; otherwise the nth (negative: from the end)
}

var dayCodes = [7]string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}

// untilForm is how UNTIL was written; RRule gives it back the same way.
type untilForm int

const (
	untilNone  untilForm = iota
	untilUTC             // 20261231T235959Z: an instant
	untilLocal           // 20261231T235959: a wall-clock time in the series' zone
	untilDate            // 20261231: through the end of that day in the series' zone
)

// until is a parsed UNTIL. For untilUTC t is the instant; otherwise it holds
// the civil date and time in time.UTC, to be read in the series' zone.
type until struct {
	form untilForm
	t    time.Time
}

// spec is a pattern, shorthand or RRULE, as the RRULE it means. Lists are
// sorted and free of duplicates.
type spec struct {
	freq       rrule.Frequency
	interval   int // ≥ 1
	count      int // 0: not given
	until      until
	wkst       int // 0 Monday
	byMonth    []int
	byWeekNo   []int
	byYearDay  []int
	byMonthDay []int
	byDay      []weekday
	byHour     []int
	byMinute   []int
	bySecond   []int
	bySetPos   []int
}

// parsePattern parses a shorthand or RRULE pattern.
func parsePattern(pattern string) (spec, error) {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return spec{}, invalidf("pattern is empty")
	case len(p) > MaxPatternLen:
		return spec{}, invalidf("pattern is %d bytes long; at most %d are allowed", len(p), MaxPatternLen)
	case strings.ContainsAny(p, "\r\n"):
		return spec{}, invalidf("pattern must be a single RRULE line: DTSTART, RDATE and EXDATE lines are not supported (the series starts at due_date in its time zone)")
	}
	up := strings.ToUpper(p)
	for _, prop := range []string{"DTSTART", "TZID", "EXDATE", "RDATE", "EXRULE"} {
		if strings.HasPrefix(up, prop) {
			return spec{}, refusedPart(prop)
		}
	}
	if rest, ok := strings.CutPrefix(up, "RRULE:"); ok {
		return parseRRule(rest)
	}
	if strings.Contains(up, "=") {
		return parseRRule(up)
	}
	return parseShorthand(strings.ToLower(p))
}

func refusedPart(name string) error {
	switch name {
	case "DTSTART", "TZID":
		return invalidf("%s is not allowed in the pattern: the series starts at due_date in its time zone", name)
	default:
		return invalidf("%s is not supported: a pattern is a single RRULE (use recurrence_end_date to end a series)", name)
	}
}

// parseRRule parses the parts of an RFC 5545 RRULE value (upper case,
// without "RRULE:").
func parseRRule(s string) (spec, error) {
	var sp spec
	seen := make(map[string]bool)
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // a stray or trailing ";"
		}
		key, val, ok := strings.Cut(part, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return spec{}, invalidf("rule part %q is not NAME=VALUE", part)
		}
		if seen[key] {
			return spec{}, invalidf("%s is given twice", key)
		}
		seen[key] = true
		if val == "" {
			return spec{}, invalidf("%s has no value", key)
		}
		var err error
		switch key {
		case "FREQ":
			sp.freq, err = parseFreq(val)
		case "INTERVAL":
			sp.interval, err = parsePositive(key, val)
		case "COUNT":
			sp.count, err = parsePositive(key, val)
		case "UNTIL":
			sp.until, err = parseUntil(val)
		case "WKST":
			sp.wkst, err = parseDayCode(key, val)
		case "BYSECOND":
			sp.bySecond, err = parseInts(key, val, 0, 59, false)
		case "BYMINUTE":
			sp.byMinute, err = parseInts(key, val, 0, 59, false)
		case "BYHOUR":
			sp.byHour, err = parseInts(key, val, 0, 23, false)
		case "BYDAY":
			sp.byDay, err = parseByDay(val)
		case "BYMONTHDAY":
			sp.byMonthDay, err = parseInts(key, val, 1, 31, true)
		case "BYYEARDAY":
			sp.byYearDay, err = parseInts(key, val, 1, 366, true)
		case "BYWEEKNO":
			sp.byWeekNo, err = parseInts(key, val, 1, 53, true)
		case "BYMONTH":
			sp.byMonth, err = parseInts(key, val, 1, 12, false)
		case "BYSETPOS":
			sp.bySetPos, err = parseInts(key, val, 1, 366, true)
		case "DTSTART", "TZID", "EXDATE", "RDATE", "EXRULE":
			return spec{}, refusedPart(key)
		default:
			return spec{}, invalidf("unknown rule part %q", key)
		}
		if err != nil {
			return spec{}, err
		}
	}
	if !seen["FREQ"] {
		return spec{}, invalidf("FREQ is required (for example FREQ=WEEKLY;BYDAY=MO)")
	}
	if sp.interval == 0 {
		sp.interval = 1
	}
	return sp, sp.check()
}

var freqs = map[string]rrule.Frequency{
	"SECONDLY": rrule.SECONDLY, "MINUTELY": rrule.MINUTELY, "HOURLY": rrule.HOURLY,
	"DAILY": rrule.DAILY, "WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY, "YEARLY": rrule.YEARLY,
}

func parseFreq(val string) (rrule.Frequency, error) {
	f, ok := freqs[val]
	if !ok {
		return 0, invalidf("FREQ=%s is not one of SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY", val)
	}
	return f, nil
}

func parsePositive(key, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return 0, invalidf("%s must be a whole number of at least 1 (got %q)", key, val)
	}
	return n, nil
}

func parseDayCode(key, val string) (int, error) {
	if i := slices.Index(dayCodes[:], val); i >= 0 {
		return i, nil
	}
	return 0, invalidf("%s=%s is not a weekday (MO, TU, WE, TH, FR, SA or SU)", key, val)
}

func parseUntil(val string) (until, error) {
	layouts := []struct {
		layout string
		form   untilForm
	}{
		{"20060102", untilDate},
		{"20060102T150405", untilLocal},
		{"20060102T150405Z", untilUTC},
	}
	for _, l := range layouts {
		if len(val) != len(l.layout) {
			continue
		}
		t, err := time.Parse(l.layout, val)
		if err != nil {
			break
		}
		return until{form: l.form, t: t}, nil
	}
	return until{}, invalidf("UNTIL=%s is not a date (20261231), a local time (20261231T235959) or a UTC time (20261231T235959Z)", val)
}

// parseInts parses a comma-separated list of integers in lo..hi, or also
// -hi..-lo when signed.
func parseInts(key, val string, lo, hi int, signed bool) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(val, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, invalidf("%s: %q is not a whole number", key, f)
		}
		if (n < lo || n > hi) && (!signed || n < -hi || n > -lo) {
			if signed {
				return nil, invalidf("%s: %d is out of range (%d to %d, or %d to %d counting from the end)", key, n, lo, hi, -hi, -lo)
			}
			return nil, invalidf("%s: %d is out of range (%d to %d)", key, n, lo, hi)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseByDay(val string) ([]weekday, error) {
	var out []weekday
	for f := range strings.SplitSeq(val, ",") {
		f = strings.TrimSpace(f)
		bad := invalidf("BYDAY: %q is not a weekday (MO, TU, WE, TH, FR, SA, SU, optionally numbered such as 2MO or -1FR)", f)
		if len(f) < 2 {
			return nil, bad
		}
		d := slices.Index(dayCodes[:], f[len(f)-2:])
		if d < 0 {
			return nil, bad
		}
		w := weekday{day: d}
		if prefix := f[:len(f)-2]; prefix != "" {
			n, err := strconv.Atoi(prefix)
			if err != nil {
				return nil, bad
			}
			if n == 0 || n < -53 || n > 53 {
				return nil, invalidf("BYDAY: %q is out of range (1 to 53, or -53 to -1 counting from the end)", f)
			}
			w.n = n
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b weekday) int { return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.n, b.n)) })
	return slices.Compact(out), nil
}

// maxInterval is the largest INTERVAL per FREQ: one period must fit in the
// Horizon.
func maxInterval(f rrule.Frequency) int {
	const horizonSeconds = Horizon * 36525 * 86400 / 100
	switch f {
	case rrule.YEARLY:
		return Horizon
	case rrule.MONTHLY:
		return Horizon * 12
	}
	return horizonSeconds / int(unitSeconds(f))
}

// unitSeconds is the length of one FREQ unit; months and years at their
// shortest.
func unitSeconds(f rrule.Frequency) int64 {
	switch f {
	case rrule.SECONDLY:
		return 1
	case rrule.MINUTELY:
		return 60
	case rrule.HOURLY:
		return 3600
	case rrule.DAILY:
		return 86400
	case rrule.WEEKLY:
		return 7 * 86400
	case rrule.MONTHLY:
		return 28 * 86400
	default:
		return 365 * 86400
	}
}

// check enforces the RFC 5545 rules on combining parts, and the limits.
func (sp spec) check() error {
	f := sp.freq
	switch {
	case sp.interval > maxInterval(f):
		return invalidf("INTERVAL=%d is too long: one period must fit in %d years (at most INTERVAL=%d with FREQ=%s)", sp.interval, Horizon, maxInterval(f), f)
	case sp.count > 0 && sp.until.form != untilNone:
		return invalidf("COUNT and UNTIL cannot both be given (RFC 5545)")
	case sp.count > MaxCount:
		return invalidf("COUNT=%d is too large (at most %d)", sp.count, MaxCount)
	case len(sp.byWeekNo) > 0 && f != rrule.YEARLY:
		return invalidf("BYWEEKNO is only allowed with FREQ=YEARLY")
	case len(sp.byYearDay) > 0 && (f == rrule.DAILY || f == rrule.WEEKLY || f == rrule.MONTHLY):
		return invalidf("BYYEARDAY is not allowed with FREQ=%s", f)
	case len(sp.byMonthDay) > 0 && f == rrule.WEEKLY:
		return invalidf("BYMONTHDAY is not allowed with FREQ=WEEKLY")
	case len(sp.bySetPos) > 0 && len(sp.byMonth)+len(sp.byWeekNo)+len(sp.byYearDay)+len(sp.byMonthDay)+
		len(sp.byDay)+len(sp.byHour)+len(sp.byMinute)+len(sp.bySecond) == 0:
		return invalidf("BYSETPOS needs another BYxxx part to select from")
	}
	plain, numbered := 0, 0
	for _, w := range sp.byDay {
		if w.n == 0 {
			plain++
			continue
		}
		numbered++
		switch {
		case f != rrule.MONTHLY && f != rrule.YEARLY:
			return invalidf("numbered BYDAY values such as %s need FREQ=MONTHLY or FREQ=YEARLY", w)
		case f == rrule.YEARLY && len(sp.byWeekNo) > 0:
			return invalidf("numbered BYDAY values such as %s cannot be combined with BYWEEKNO", w)
		case (f == rrule.MONTHLY || len(sp.byMonth) > 0) && (w.n > 5 || w.n < -5):
			return invalidf("BYDAY=%s never occurs: a month has at most 5 of each weekday", w)
		}
	}
	if plain > 0 && numbered > 0 {
		return invalidf("BYDAY cannot mix every-weekday values (MO) with numbered ones (2MO)")
	}
	return nil
}

func (w weekday) String() string {
	if w.n == 0 {
		return dayCodes[w.day]
	}
	return strconv.Itoa(w.n) + dayCodes[w.day]
}

// String is the canonical RRULE (without "RRULE:" and DTSTART): parts in a
// fixed order, lists sorted, defaults (INTERVAL=1, WKST=MO) left out.
func (sp spec) String() string {
	var b strings.Builder
	b.WriteString("FREQ=" + sp.freq.String())
	if sp.interval > 1 {
		fmt.Fprintf(&b, ";INTERVAL=%d", sp.interval)
	}
	if sp.count > 0 {
		fmt.Fprintf(&b, ";COUNT=%d", sp.count)
	}
	switch sp.until.form {
	case untilUTC:
		b.WriteString(";UNTIL=" + sp.until.t.Format("20060102T150405Z"))
	case untilLocal:
		b.WriteString(";UNTIL=" + sp.until.t.Format("20060102T150405"))
	case untilDate:
		b.WriteString(";UNTIL=" + sp.until.t.Format("20060102"))
	}
	sp.writeDayParts(&b)
	writeInts(&b, "BYHOUR", sp.byHour)
	writeInts(&b, "BYMINUTE", sp.byMinute)
	writeInts(&b, "BYSECOND", sp.bySecond)
	writeInts(&b, "BYSETPOS", sp.bySetPos)
	if sp.wkst != 0 {
		b.WriteString(";WKST=" + dayCodes[sp.wkst])
	}
	return b.String()
}

// writeDayParts writes the parts that select days.
func (sp spec) writeDayParts(b *strings.Builder) {
	writeInts(b, "BYMONTH", sp.byMonth)
	writeInts(b, "BYWEEKNO", sp.byWeekNo)
	writeInts(b, "BYYEARDAY", sp.byYearDay)
	writeInts(b, "BYMONTHDAY", sp.byMonthDay)
	if len(sp.byDay) > 0 {
		b.WriteString(";BYDAY=")
		for i, w := range sp.byDay {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(w.String())
		}
	}
}

func writeInts(b *strings.Builder, key string, vals []int) {
	if len(vals) == 0 {
		return
	}
	b.WriteString(";" + key + "=")
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
}

// Shorthand patterns.

var weekdayNames = map[string]int{
	"mo": 0, "mon": 0, "monday": 0,
	"tu": 1, "tue": 1, "tues": 1, "tuesday": 1,
	"we": 2, "wed": 2, "wednesday": 2,
	"th": 3, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
	"fr": 4, "fri": 4, "friday": 4,
	"sa": 5, "sat": 5, "saturday": 5,
	"su": 6, "sun": 6, "sunday": 6,
}

// parseShorthand parses kind[/interval]:args (lower case). The colon may be
// left out when there are no arguments.
func parseShorthand(p string) (spec, error) {
	head, args, _ := strings.Cut(p, ":")
	args = strings.TrimSpace(args)
	kind, iv, hasInterval := strings.Cut(strings.TrimSpace(head), "/")
	kind = strings.TrimSpace(kind)
	sp := spec{interval: 1}
	if hasInterval {
		n, err := strconv.Atoi(strings.TrimSpace(iv))
		if err != nil || n < 1 {
			return spec{}, invalidf("interval %q in %s must be a whole number of at least 1", strings.TrimSpace(iv), p)
		}
		sp.interval = n
	}
	noArgs := func() error {
		if args != "" {
			return invalidf("%s takes no argument (got %q in %s)", kind, args, p)
		}
		return nil
	}
	var err error
	switch kind {
	case "daily":
		sp.freq = rrule.DAILY
		err = noArgs()
	case "weekdays":
		sp.freq = rrule.WEEKLY
		sp.byDay = []weekday{{day: 0}, {day: 1}, {day: 2}, {day: 3}, {day: 4}}
		err = noArgs()
	case "weekly":
		sp.freq = rrule.WEEKLY
		sp.byDay, err = shorthandDays(args, p)
	case "monthly":
		sp.freq = rrule.MONTHLY
		sp.byMonthDay, err = shorthandMonthDays(args, p)
	case "yearly":
		sp.freq = rrule.YEARLY
		sp.byMonth, sp.byMonthDay, err = shorthandDate(args, p)
	default:
		return spec{}, invalidf("unknown pattern %q: use daily:, weekly:mon,wed, weekdays:, monthly:15, monthly:last, "+
			"yearly:03-14 (optionally with an interval, as in weekly/2:mon) or an RFC 5545 RRULE such as FREQ=MONTHLY;BYMONTHDAY=-1", p)
	}
	if err != nil {
		return spec{}, err
	}
	return sp, sp.check()
}

// shorthandDays parses "mon,wed,fri"; empty means the start's weekday
// (left implicit, as FREQ=WEEKLY alone means).
func shorthandDays(args, p string) ([]weekday, error) {
	if args == "" {
		return nil, nil
	}
	var out []weekday
	for f := range strings.SplitSeq(args, ",") {
		f = strings.TrimSpace(f)
		d, ok := weekdayNames[f]
		if !ok {
			return nil, invalidf("unknown weekday %q in %s (use mon, tue, wed, thu, fri, sat, sun)", f, p)
		}
		out = append(out, weekday{day: d})
	}
	slices.SortFunc(out, func(a, b weekday) int { return cmp.Compare(a.day, b.day) })
	return slices.Compact(out), nil
}

// shorthandMonthDays parses "1,15" and "last"; empty means the start's day.
func shorthandMonthDays(args, p string) ([]int, error) {
	if args == "" {
		return nil, nil
	}
	var out []int
	for f := range strings.SplitSeq(args, ",") {
		f = strings.TrimSpace(f)
		if f == "last" {
			out = append(out, -1)
			continue
		}
		n, err := strconv.Atoi(f)
		switch {
		case err != nil:
			return nil, invalidf("month day %q is neither a number nor last in %s", f, p)
		case n < 1 || n > 31:
			return nil, invalidf("month day %d out of range (1 to 31, or last) in %s", n, p)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// shorthandDate parses one "MM-DD"; empty means the start's month and day.
func shorthandDate(args, p string) (months, days []int, err error) {
	if args == "" {
		return nil, nil, nil
	}
	ms, ds, ok := strings.Cut(args, "-")
	m, errM := strconv.Atoi(ms)
	d, errD := strconv.Atoi(ds)
	if !ok || errM != nil || errD != nil || len(ms) > 2 || len(ds) > 2 {
		return nil, nil, invalidf("date %q must be one MM-DD date such as 03-14 in %s", args, p)
	}
	if m < 1 || m > 12 {
		return nil, nil, invalidf("month %d out of range (01 to 12) in %s", m, p)
	}
	if most := time.Date(2000, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > most {
		return nil, nil, invalidf("day %d out of range for %s (1 to %d) in %s", d, time.Month(m), most, p)
	}
	return []int{m}, []int{d}, nil
}
