package quickadd

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one word of the input: a run of characters between white space,
// commas and semicolons, without the punctuation that may open or close it
// ("(friday)," is the token friday).
type token struct {
	start, end int    // byte offsets of the word in the input
	w          string // the word, ASCII letters lower-cased (same length as the input bytes)
}

// lex splits text into tokens. Offsets always fall on rune boundaries of
// text, so text[start:end] is the word as the user typed it.
func lex(text string) []token {
	var toks []token
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isSep(r) {
			i += size
			continue
		}
		j := i
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if isSep(r) {
				break
			}
			j += size
		}
		s, e := i, j
		for s < e && strings.IndexByte(`(["'`, text[s]) >= 0 {
			s++
		}
		for e > s && strings.IndexByte(`.!?)]"':`, text[e-1]) >= 0 {
			e--
		}
		if s < e {
			toks = append(toks, token{start: s, end: e, w: asciiLower(text[s:e])})
		}
		i = j
	}
	return toks
}

func isSep(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == ';' }

// asciiLower lower-cases ASCII letters only, so that byte offsets into the
// result are offsets into s (strings.ToLower may change the length).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
