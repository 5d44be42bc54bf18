package task

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// MaxOffset is the longest reminder offset accepted.
const MaxOffset = 366 * 24 * time.Hour

var errOffsetSyntax = errors.New(`must be a duration such as "1 hour", "2 days 3 hours", "90m", "1h30m" or ISO 8601 "PT30M", "P1D"`)

// ParseOffset parses a reminder offset (how long before the due date a
// reminder fires). Three notations are accepted:
//
//   - the seed's words: "15 minutes", "1 hour", "2 days", "1 week", also
//     combined ("1 day 2 hours") and abbreviated (min, mins, hr, hrs, h, m, s, d, w);
//   - Go durations: "90m", "1h30m", "45s";
//   - ISO 8601 durations without years or months: "PT30M", "P1D", "P1DT2H", "P2W".
//
// Offsets are between 0 and MaxOffset.
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errOffsetSyntax
	}
	var (
		d   time.Duration
		err error
	)
	switch {
	case s[0] == 'P' || s[0] == 'p':
		d, err = parseISODuration(strings.ToUpper(s))
	default:
		if gd, gerr := time.ParseDuration(s); gerr == nil {
			d = gd
		} else {
			d, err = parseWords(strings.ToLower(s))
		}
	}
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	if d > MaxOffset {
		return 0, fmt.Errorf("must be at most %d days", int(MaxOffset/(24*time.Hour)))
	}
	return d, nil
}

var wordUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
}

// parseWords parses "<n> <unit> [<n> <unit>...]", also "<n><unit>" tokens
// and an optional "and" between parts ("1 hour and 30 minutes").
func parseWords(s string) (time.Duration, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
	var total time.Duration
	parts := 0
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "and" && parts > 0 {
			continue
		}
		j := 0
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if j == 0 || j > 6 {
			return 0, errOffsetSyntax
		}
		n, _ := strconv.Atoi(f[:j])
		unit := f[j:]
		if unit == "" {
			if i+1 >= len(fields) {
				return 0, errOffsetSyntax
			}
			i++
			unit = fields[i]
		}
		u, ok := wordUnits[unit]
		if !ok {
			return 0, errOffsetSyntax
		}
		total += time.Duration(n) * u
		if total > MaxOffset {
			return 0, fmt.Errorf("must be at most %d days", int(MaxOffset/(24*time.Hour)))
		}
		parts++
	}
	if parts == 0 {
		return 0, errOffsetSyntax
	}
	return total, nil
}

// parseISODuration parses P[nW] | P[nD][T[nH][nM][nS]] (upper case).
func parseISODuration(s string) (time.Duration, error) {
	if len(s) < 3 || s[0] != 'P' {
		return 0, errOffsetSyntax
	}
	var total time.Duration
	inTime := false
	seen := 0
	num := ""
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			if len(num) >= 6 {
				return 0, errOffsetSyntax
			}
			num += string(r)
			continue
		case r == 'T':
			if inTime || num != "" {
				return 0, errOffsetSyntax
			}
			inTime = true
			continue
		}
		if num == "" {
			return 0, errOffsetSyntax
		}
		n, _ := strconv.Atoi(num)
		num = ""
		var unit time.Duration
		switch {
		case !inTime && r == 'W':
			unit = 7 * 24 * time.Hour
		case !inTime && r == 'D':
			unit = 24 * time.Hour
		case !inTime && (r == 'Y' || r == 'M'):
			return 0, errors.New("ISO 8601 years and months are not allowed (their length varies); use days or weeks")
		case inTime && r == 'H':
			unit = time.Hour
		case inTime && r == 'M':
			unit = time.Minute
		case inTime && r == 'S':
			unit = time.Second
		default:
			return 0, errOffsetSyntax
		}
		total += time.Duration(n) * unit
		if total > MaxOffset {
			return 0, fmt.Errorf("must be at most %d days", int(MaxOffset/(24*time.Hour)))
		}
		seen++
	}
	if num != "" || seen == 0 {
		return 0, errOffsetSyntax
	}
	return total, nil
}
