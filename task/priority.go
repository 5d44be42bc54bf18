package task

import "fmt"

// Priority orders tasks; the zero value is not valid, use PriorityNone.
type Priority string

// The priorities, lowest first.
const (
	PriorityNone   Priority = "none"
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityHigh   Priority = "high"
)

// Priorities lists every valid priority, lowest first.
var priorities = [...]Priority{PriorityNone, PriorityLow, PriorityMedium, PriorityHigh}

// ParsePriority returns the Priority named s.
func ParsePriority(s string) (Priority, error) {
	for _, p := range priorities {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("must be one of none, low, medium, high (got %q)", s)
}

// Rank is the sort key of p: none 0, low 1, medium 2, high 3.
func (p Priority) Rank() int {
	for i, q := range priorities {
		if p == q {
			return i
		}
	}
	return 0
}
