package quickadd

import (
	"strings"
)

// connectors are words that only joined a removed phrase to the title: left
// behind right before a removed span or at the end, they go too ("Call
// mom at" is "Call mom"). "on" is not one: the recognisers take it where it
// introduces a date ("on friday"), and elsewhere it is a particle that
// belongs to the title ("Turn the lights on tomorrow").
var connectors = map[string]bool{
	"at": true, "by": true, "every": true, "each": true, "due": true, "from": true,
	"until": true, "till": true, "starting": true, "and": true, "with": true, "&": true, "@": true,
}

// tidyTitle is text without the spans: single spaces, no dangling
// connectors, no stray commas or empty brackets.
func tidyTitle(text string, spans []Span) string {
	if len(spans) == 0 {
		return strings.Join(strings.Fields(text), " ")
	}
	var words []string
	prev := 0
	for _, s := range spans {
		words = append(words, strings.Fields(text[prev:s.Start])...)
		words = dropDangling(words)
		prev = s.End
	}
	words = dropDangling(append(words, strings.Fields(text[prev:])...))

	var out []string
	for _, w := range words {
		switch {
		case strings.Trim(w, ",;:") == "": // a comma left on its own
			if n := len(out); n > 0 && !strings.ContainsAny(out[n-1][len(out[n-1])-1:], ",;:") {
				out[n-1] += w[:1]
			}
		case (w == ")" || w == "]") && len(out) > 0 && (out[len(out)-1] == "(" || out[len(out)-1] == "["):
			out = out[:len(out)-1]
		default:
			out = append(out, w)
		}
	}
	t := strings.Join(out, " ")
	for _, empty := range []string{"()", "[]"} {
		t = strings.ReplaceAll(t, empty, "")
	}
	t = strings.Join(strings.Fields(t), " ")
	for {
		u := strings.Trim(t, " ,;:-–—")
		if i := strings.LastIndexByte(u, ' '); i >= 0 && connectors[strings.ToLower(u[i+1:])] {
			u = u[:i]
		}
		if u == t {
			return t
		}
		t = u
	}
}

// dropDangling removes connectors (and commas) at the end of words.
func dropDangling(words []string) []string {
	for len(words) > 0 {
		last := words[len(words)-1]
		if !connectors[strings.ToLower(last)] && strings.Trim(last, ",;") != "" {
			return words
		}
		words = words[:len(words)-1]
	}
	return words
}
