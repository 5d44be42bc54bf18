package quickadd

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskflow/taskflow/task"
)

// kind is what a recognised phrase sets.
type kind int

const (
	kindPriority kind = iota + 1
	kindTag
	kindReminder
	kindUntil // until <date>
	kindCount // for 5 times
	kindRecur
	kindDate // a date; start marks "starting <date>"
	kindClock
	kindZone
)

// field is the Span.Field of each kind.
var field = map[kind]string{
	kindPriority: "priority", kindTag: "tag", kindReminder: "reminder", kindUntil: "recurrence_end",
	kindCount: "recurrence_end", kindRecur: "recurrence", kindDate: "due_date", kindClock: "due_date",
	kindZone: "timezone",
}

// item is one recognised phrase: tokens [from, to) and what it means.
type item struct {
	kind     kind
	from, to int

	priority  task.Priority
	tag       string
	reminders []string
	date      dateSpec
	start     bool // kindDate: "starting <date>", the first day of a series
	clock     clockSpec
	zone      *time.Location
	zoneName  string
	rec       recSpec
	count     int
}

// parser holds one Parse call's state. It is not safe for concurrent use.
type parser struct {
	text  string
	toks  []token
	items []item
}

// w is the word at i, or "" past the end.
func (p *parser) w(i int) string {
	if i < 0 || i >= len(p.toks) {
		return ""
	}
	return p.toks[i].w
}

// raw is the token at i as typed.
func (p *parser) raw(i int) string {
	if i < 0 || i >= len(p.toks) {
		return ""
	}
	return p.text[p.toks[i].start:p.toks[i].end]
}

// commaBefore reports whether a comma or semicolon separates token i from
// the token before it.
func (p *parser) commaBefore(i int) bool {
	if i <= 0 || i >= len(p.toks) {
		return false
	}
	return strings.ContainsAny(p.text[p.toks[i-1].end:p.toks[i].start], ",;")
}

func (p *parser) is(i int, words ...string) bool {
	w := p.w(i)
	for _, x := range words {
		if w == x {
			return true
		}
	}
	return false
}

// scan recognises phrases left to right: at each token the recognisers are
// tried in a fixed order and the first that matches consumes its tokens.
func (p *parser) scan() {
	recognisers := []func(int) int{p.priority, p.tag, p.reminder, p.until, p.count, p.starting,
		p.recurrence, p.date, p.clockPhrase}
	for i := 0; i < len(p.toks); {
		n := 0
		for _, r := range recognisers {
			if n = r(i); n > 0 {
				break
			}
		}
		if n == 0 {
			n = 1
		}
		i += n
	}
}

func (p *parser) add(it item) { p.items = append(p.items, it) }

var priorityWords = map[string]task.Priority{
	"!high": task.PriorityHigh, "!1": task.PriorityHigh, "p1": task.PriorityHigh,
	"!medium": task.PriorityMedium, "!med": task.PriorityMedium, "!2": task.PriorityMedium, "p2": task.PriorityMedium,
	"!low": task.PriorityLow, "!3": task.PriorityLow, "p3": task.PriorityLow,
	"!none": task.PriorityNone, "!4": task.PriorityNone, "p4": task.PriorityNone,
}

// priority: !high, !2, p1, "high priority", "priority low".
func (p *parser) priority(i int) int {
	if pr, ok := priorityWords[p.w(i)]; ok {
		p.add(item{kind: kindPriority, from: i, to: i + 1, priority: pr})
		return 1
	}
	level := func(w string) (task.Priority, bool) {
		switch w {
		case "high", "medium", "low":
			return task.Priority(w), true
		}
		return "", false
	}
	if pr, ok := level(p.w(i)); ok && p.is(i+1, "priority") {
		p.add(item{kind: kindPriority, from: i, to: i + 2, priority: pr})
		return 2
	}
	if pr, ok := level(p.w(i + 1)); ok && p.is(i, "priority") {
		p.add(item{kind: kindPriority, from: i, to: i + 2, priority: pr})
		return 2
	}
	return 0
}

// tag: #word of letters, digits, - and _, with at least one letter (so
// that "issue #42" keeps its number), at most task.MaxTagLen characters.
func (p *parser) tag(i int) int {
	raw := p.raw(i)
	if !strings.HasPrefix(raw, "#") {
		return 0
	}
	name := raw[1:]
	letter := false
	for _, r := range name {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r) || r == '-' || r == '_':
		default:
			return 0
		}
	}
	if !letter || utf8.RuneCountInString(name) > task.MaxTagLen {
		return 0
	}
	p.add(item{kind: kindTag, from: i, to: i + 1, tag: strings.ToLower(name)})
	return 1
}

// reminder: (remind me | reminder | with a reminder | notify me | alert me)
// <offset> [and <offset>…] (before | early | earlier | ahead | beforehand |
// in advance | prior). An offset is "30 minutes", "an hour", "the day",
// "half an hour", "1h", or several parts summed ("1 hour 30 minutes");
// "and" starts another reminder.
func (p *parser) reminder(i int) int {
	j := i
	switch {
	case p.is(j, "remind", "notify", "alert", "ping") && p.is(j+1, "me"):
		j += 2
	case p.is(j, "reminder", "reminders"):
		j++
	case p.is(j, "with") && p.is(j+1, "a", "an") && p.is(j+2, "reminder"):
		j += 3
	case p.is(j, "with") && p.is(j+1, "reminder", "reminders"):
		j += 2
	default:
		return 0
	}
	var offsets []string
	for {
		n, off, ok := p.offset(j)
		if !ok {
			return 0
		}
		offsets = append(offsets, off)
		j += n
		if p.is(j, "and", "&") {
			if _, _, ok := p.offset(j + 1); ok {
				j++
				continue
			}
		}
		if _, _, ok := p.offset(j); ok {
			continue // "1 day, 1 hour before": the comma was a separator
		}
		break
	}
	switch {
	case p.is(j, "before", "early", "earlier", "ahead", "beforehand", "prior"):
		j++
	case p.is(j, "in") && p.is(j+1, "advance"):
		j += 2
	default:
		return 0
	}
	p.add(item{kind: kindReminder, from: i, to: j, reminders: offsets})
	return j - i
}

// offset reads one reminder offset at j and gives it in the notation
// task.ParseOffset accepts.
func (p *parser) offset(j int) (n int, off string, ok bool) {
	if p.is(j, "half") && p.is(j+1, "an") && p.is(j+2, "hour") {
		return 3, "30 minutes", true
	}
	var parts []string
	var total time.Duration
	k := j
	for {
		if k > j && p.commaBefore(k) { // "1 day, 2 hours": two reminders
			break
		}
		article := p.is(k, "a", "an", "the", "one")
		c, u, ok := p.amount(k, true)
		if !ok || u > week {
			break
		}
		parts = append(parts, unitName(u, c.n))
		total += time.Duration(c.n) * u.duration()
		k += c.tokens
		if article { // "a day" is not followed by more parts
			break
		}
	}
	if len(parts) == 0 || total > task.MaxOffset {
		return 0, "", false
	}
	off = strings.Join(parts, " ")
	if _, err := task.ParseOffset(off); err != nil {
		return 0, "", false
	}
	return k - j, off, true
}

// count of an amount: n and the tokens it took.
type count struct{ n, tokens int }

// amount reads "<n> <unit>", "a|an|the <unit>" (when article) or "30m".
func (p *parser) amount(j int, article bool) (count, unit, bool) {
	if n, u, ok := compact(p.w(j)); ok {
		return count{n, 1}, u, true
	}
	u, ok := unitWords[p.w(j+1)]
	if !ok {
		return count{}, 0, false
	}
	if article && p.is(j, "a", "an", "the", "one") {
		if strings.HasSuffix(p.w(j+1), "s") && p.w(j+1) != "s" && !p.is(j, "one") {
			return count{}, 0, false // "a days"
		}
		return count{1, 2}, u, true
	}
	n, ok := number(p.w(j))
	if !ok {
		return count{}, 0, false
	}
	return count{n, 2}, u, true
}

// until: (until | till | til | through | thru | ending | ends [on]) <date>
// or a month ("until June": through its last day).
func (p *parser) until(i int) int {
	j := i
	switch {
	case p.is(j, "until", "till", "til", "through", "thru"):
		j++
	case p.is(j, "ending", "ends"):
		j++
		if p.is(j, "on") {
			j++
		}
	default:
		return 0
	}
	if n, d, ok := p.dateAt(j, true); ok && d.kind != dInstant {
		p.add(item{kind: kindUntil, from: i, to: j + n, date: d})
		return j + n - i
	}
	if m, ok := month(p.w(j)); ok {
		d := dateSpec{kind: dMonth, month: m}
		n := 1
		if y, ok := yearNumber(p.w(j + 1)); ok {
			d.year, n = y, 2
		}
		p.add(item{kind: kindUntil, from: i, to: j + n, date: d})
		return j + n - i
	}
	return 0
}

// count: [for] <n> (times | occurrences).
func (p *parser) count(i int) int {
	j := i
	if p.is(j, "for") {
		j++
	}
	n, ok := number(p.w(j))
	if !ok || n < 1 || !p.is(j+1, "times", "occurrences") {
		return 0
	}
	p.add(item{kind: kindCount, from: i, to: j + 2, count: n})
	return j + 2 - i
}

// starting: (starting [on|from] | from | beginning) <date>: when a series
// starts (for a task that does not recur, simply its due date).
func (p *parser) starting(i int) int {
	j := i
	switch {
	case p.is(j, "starting", "beginning"):
		j++
		if p.is(j, "on", "from") {
			j++
		}
	case p.is(j, "from"):
		j++
	default:
		return 0
	}
	n, d, ok := p.dateAt(j, true)
	if !ok || d.kind == dInstant {
		return 0
	}
	p.add(item{kind: kindDate, from: i, to: j + n, date: d, start: true})
	return j + n - i
}
