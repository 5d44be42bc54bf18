package recurrence

// Mode says when the next instance of a recurring series falls due.
type Mode string

// The modes.
const (
	// Schedule: instances fall due at the rule's occurrences, whether or
	// not earlier instances were completed (Rule.After, Rule.Missed).
	Schedule Mode = "schedule"
	// FromCompletion: the next instance falls due one rule interval after
	// the previous one was completed (Rule.AddInterval).
	FromCompletion Mode = "from_completion"
)

// ParseMode returns the Mode named s; the empty string is Schedule.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Schedule:
		return Schedule, nil
	case FromCompletion:
		return FromCompletion, nil
	}
	return "", invalidf("mode must be %q or %q (got %q)", Schedule, FromCompletion, s)
}
