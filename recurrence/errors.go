package recurrence

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every error that Parse, ParseMode and
// LoadLocation return. The error text itself is a message fit for the
// client, without a prefix: "unknown weekday \"mnday\" in weekly:mnday".
var ErrInvalid = errors.New("invalid recurrence")

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
