package quickadd

import (
	"strconv"
	"strings"
	"time"
)

// The vocabulary of the grammar. All words are lower case; tokens are
// compared after ASCII lower-casing.

var weekdayFull = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// weekdayAbbrev holds the short names. Some are English words ("sat",
// "sun", "wed"), so they count as weekdays only where the grammar expects
// a day: after on, by, due, next, this, until, every, and in day lists.
var weekdayAbbrev = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "tues": time.Tuesday,
	"wed": time.Wednesday, "weds": time.Wednesday, "thu": time.Thursday, "thur": time.Thursday,
	"thurs": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// dayCodes are the RFC 5545 BYDAY codes, indexed by time.Weekday.
var dayCodes = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// weekdayForm says which spellings of a weekday a grammar position takes.
type weekdayForm struct {
	abbrev bool // mon, tue, …
	plural bool // mondays, tuesdays, …
}

// weekday reads w as a weekday name in the forms f allows; plural reports
// whether it was written in the plural ("mondays").
func weekday(w string, f weekdayForm) (d time.Weekday, plural, ok bool) {
	if d, ok := weekdayFull[w]; ok {
		return d, false, true
	}
	if f.abbrev {
		if d, ok := weekdayAbbrev[w]; ok {
			return d, false, true
		}
	}
	if f.plural {
		if d, ok := weekdayFull[strings.TrimSuffix(w, "s")]; ok && strings.HasSuffix(w, "s") {
			return d, true, true
		}
	}
	return 0, false, false
}

var months = map[string]time.Month{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
	"may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
	"september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
	"december": 12, "dec": 12,
}

// month reads w as a month name ("dec." loses its dot in lex).
func month(w string) (time.Month, bool) {
	m, ok := months[w]
	return m, ok
}

var numberWords = map[string]int{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
	"nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
	"forty-five": 45, "sixty": 60, "ninety": 90,
}

// number reads a count: digits (at most 4) or a number word.
func number(w string) (int, bool) {
	if n, ok := numberWords[w]; ok {
		return n, true
	}
	if len(w) == 0 || len(w) > 4 || !allDigits(w) {
		return 0, false
	}
	n, _ := strconv.Atoi(w)
	return n, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

var ordinalWords = map[string]int{
	"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
	"eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
	"fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
	"nineteenth": 19, "twentieth": 20, "twenty-first": 21, "twenty-second": 22, "twenty-third": 23,
	"twenty-fourth": 24, "twenty-fifth": 25, "twenty-sixth": 26, "twenty-seventh": 27,
	"twenty-eighth": 28, "twenty-ninth": 29, "thirtieth": 30, "thirty-first": 31,
}

// ordinal reads "1st", "22nd", "third" (1 to 31); "last" is -1.
func ordinal(w string) (int, bool) {
	if w == "last" {
		return -1, true
	}
	if n, ok := ordinalWords[w]; ok {
		return n, true
	}
	if len(w) < 3 || len(w) > 4 {
		return 0, false
	}
	digits, suffix := w[:len(w)-2], w[len(w)-2:]
	if !allDigits(digits) || (suffix != "st" && suffix != "nd" && suffix != "rd" && suffix != "th") {
		return 0, false
	}
	n, _ := strconv.Atoi(digits)
	if n < 1 || n > 31 {
		return 0, false
	}
	return n, true
}

// dayNumber reads a day of the month written "5", "05" or "5th".
func dayNumber(w string) (int, bool) {
	if n, ok := ordinal(w); ok && n > 0 {
		return n, true
	}
	if len(w) > 2 || !allDigits(w) {
		return 0, false
	}
	n, _ := strconv.Atoi(w)
	return n, n >= 1 && n <= 31
}

// unit is a length of time in the grammar.
type unit int

const (
	second unit = iota + 1
	minute
	hour
	day
	week
	monthUnit
	year
)

var unitWords = map[string]unit{
	"s": second, "sec": second, "secs": second, "second": second, "seconds": second,
	"m": minute, "min": minute, "mins": minute, "minute": minute, "minutes": minute,
	"h": hour, "hr": hour, "hrs": hour, "hour": hour, "hours": hour,
	"d": day, "day": day, "days": day,
	"w": week, "wk": week, "wks": week, "week": week, "weeks": week,
	"month": monthUnit, "months": monthUnit,
	"y": year, "yr": year, "yrs": year, "year": year, "years": year,
}

// compactUnits are the units that may be glued to a number ("30m", "2h").
var compactUnits = map[string]unit{
	"s": second, "sec": second, "secs": second, "m": minute, "min": minute, "mins": minute,
	"h": hour, "hr": hour, "hrs": hour, "d": day, "w": week, "wk": week,
}

// compact reads "30m", "1h", "2d", "15min".
func compact(w string) (int, unit, bool) {
	i := 0
	for i < len(w) && i < 5 && w[i] >= '0' && w[i] <= '9' {
		i++
	}
	if i == 0 || i > 4 {
		return 0, 0, false
	}
	u, ok := compactUnits[w[i:]]
	if !ok {
		return 0, 0, false
	}
	n, _ := strconv.Atoi(w[:i])
	return n, u, true
}

var unitNames = map[unit]string{second: "second", minute: "minute", hour: "hour", day: "day", week: "week",
	monthUnit: "month", year: "year"}

// unitName is the notation task.ParseOffset reads ("1 day", "30 minutes").
func unitName(u unit, n int) string {
	s := unitNames[u]
	if n != 1 {
		s += "s"
	}
	return strconv.Itoa(n) + " " + s
}

func (u unit) duration() time.Duration {
	switch u {
	case second:
		return time.Second
	case minute:
		return time.Minute
	case hour:
		return time.Hour
	case day:
		return 24 * time.Hour
	case week:
		return 7 * 24 * time.Hour
	}
	return 0
}

// partOfDay is a named time of day and the clock time it stands for.
type partOfDay struct {
	name string
	hour int
	pm   bool // a clock time in this part ("at 7 in the evening") is after noon
}

var partsOfDay = map[string]partOfDay{
	"morning":   {"morning", 9, false},
	"afternoon": {"afternoon", 15, true},
	"evening":   {"evening", 19, true},
	"night":     {"night", 20, true},
}

// zoneAbbrevs maps the zone abbreviations people type to the IANA zone they
// mean. An abbreviation names the region, not a fixed offset: "3pm EST" in
// July is 3 pm New York time (EDT). CST is US Central, IST India.
var zoneAbbrevs = map[string]string{
	"est": "America/New_York", "edt": "America/New_York", "et": "America/New_York",
	"cst": "America/Chicago", "cdt": "America/Chicago", "ct": "America/Chicago",
	"mst": "America/Denver", "mdt": "America/Denver", "mt": "America/Denver",
	"pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pt": "America/Los_Angeles",
	"akst": "America/Anchorage", "akdt": "America/Anchorage", "hst": "Pacific/Honolulu",
	"utc": "UTC", "gmt": "UTC",
	"bst": "Europe/London", "cet": "Europe/Berlin", "cest": "Europe/Berlin",
	"eet": "Europe/Athens", "eest": "Europe/Athens", "msk": "Europe/Moscow",
	"ist": "Asia/Kolkata", "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong",
	"jst": "Asia/Tokyo", "kst": "Asia/Seoul",
	"aest": "Australia/Sydney", "aedt": "Australia/Sydney", "awst": "Australia/Perth",
	"nzst": "Pacific/Auckland", "nzdt": "Pacific/Auckland",
}
