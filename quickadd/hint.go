package quickadd

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/olebedev/when"
	"github.com/olebedev/when/rules/common"
	"github.com/olebedev/when/rules/en"
)

// unparsed lists the phrases that look like dates but did not make it
// into the Result: items that were dropped (a second due date, "until"
// without a recurrence), then what github.com/olebedev/when still finds in
// the rest of the text.
func (p *parser) unparsed(s selection, spans []Span, now time.Time) []string {
	var found []hint
	masked := []byte(p.text)
	mask := func(from, to int) {
		for i := from; i < to; i++ {
			masked[i] = ' '
		}
	}
	for _, sp := range spans {
		mask(sp.Start, sp.End)
	}
	for i, it := range p.items {
		if !s.dropped[i] || s.used[i] {
			continue
		}
		from, to := p.toks[it.from].start, p.toks[it.to-1].end
		found = append(found, hint{from, p.text[from:to]})
		mask(from, to)
	}
	found = append(found, whenHints(string(masked), now)...)
	slices.SortStableFunc(found, func(a, b hint) int { return a.at - b.at })
	var out []string
	for _, f := range found {
		if !slices.Contains(out, f.text) {
			out = append(out, f.text)
		}
	}
	return out
}

// hint is a phrase of the text at byte offset at.
type hint struct {
	at   int
	text string
}

// dashNumbers are what when's hour-minute rule takes for a time ("5-30")
// and nobody means as one.
var dashNumbers = regexp.MustCompile(`^\d+-\d+$`)

// whenHints runs github.com/olebedev/when (English and common rules) over
// text, whose recognised phrases are blanked out, and returns each phrase
// it matches that is more than a single word (a lone "may", "sun" or "now"
// is too often just a word).
//
// when is not used for the dates themselves: tried on this grammar's
// phrases (v1.1.0) it moves weekdays and "in 2 weeks" by fixed 24-hour
// steps (an hour off across DST), reads "wednesday" on a Wednesday and
// "next friday" as the coming one the same way, takes the "01-15" of
// "2027-01-15" for 01:15, reads "the day after tomorrow" as tomorrow and
// "in 10 months" from March as last January, misses "next week", "12/25",
// "at 9" and "midnight", and returns only the first cluster of matches.
// Its rules are still a good net for phrases this grammar lacks ("in a few
// days", "last night").
// whenParser is built once: its rules are dozens of regular expressions.
// A Parser made with New holds its options from the start and is only read
// by Parse, so one serves concurrent calls.
var whenParser = sync.OnceValue(func() *when.Parser {
	w := when.New(nil)
	w.Add(en.All...)
	w.Add(common.All...)
	return w
})

// maxWhenHints bounds the passes over one text (each runs every rule).
const maxWhenHints = 8

func whenHints(text string, now time.Time) (out []hint) {
	defer func() {
		// when is third-party code run on user input: a panic in one of its
		// rules costs only these hints, never the request.
		if recover() != nil {
			out = nil
		}
	}()
	w := whenParser()
	for off, n := 0, 0; off < len(text) && n < maxWhenHints; n++ {
		r, err := w.Parse(text[off:], now)
		if err != nil || r == nil || r.Index < 0 {
			break
		}
		start := off + r.Index
		phrase := strings.Join(strings.Fields(r.Text), " ")
		if strings.ContainsAny(phrase, " 0123456789") && !dashNumbers.MatchString(phrase) {
			out = append(out, hint{start, phrase})
		}
		off = max(start+len(r.Text), off+1)
	}
	return out
}
