package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxSubjectLen is the maximum length of the "sub" claim in bytes.
const MaxSubjectLen = 255

// ErrInvalidToken is wrapped by every error Verify returns. The rest of the
// message is a short reason such as "token expired" that is safe to show to
// the client; it never contains the token.
var ErrInvalidToken = errors.New("invalid token")

// Reasons appended to ErrInvalidToken. They are part of the package contract:
// clients may see them, so they must never include token contents.
const (
	reasonMissing        = "token missing"
	reasonTooLarge       = "token too large"
	reasonMalformed      = "token malformed"
	reasonAlgorithm      = "unexpected signing algorithm"
	reasonHeader         = "unsupported token header"
	reasonUnknownKey     = "unknown signing key"
	reasonKeyMismatch    = "signing key does not match algorithm"
	reasonSignature      = "token signature invalid"
	reasonExpired        = "token expired"
	reasonNotYetValid    = "token not valid yet"
	reasonIssuedFuture   = "token issued in the future"
	reasonIssuer         = "token issuer invalid"
	reasonAudience       = "token audience invalid"
	reasonMissingExp     = "token missing exp claim"
	reasonMissingIss     = "token missing iss claim"
	reasonMissingAud     = "token missing aud claim"
	reasonMissingSub     = "token missing sub claim"
	reasonSubject        = "token subject invalid"
	reasonClaims         = "token claims invalid"
	reasonKeyUnavailable = "signing key unavailable"
)

// invalid returns an error wrapping ErrInvalidToken with a client-safe reason.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

// Claims are the verified facts about the bearer of a token.
type Claims struct {
	// UserID is the "sub" claim: non-empty, at most MaxSubjectLen bytes of
	// valid UTF-8 without control (Cc) or format (Cf) characters.
	UserID string
	// ExpiresAt is the "exp" claim; always set.
	ExpiresAt time.Time
	// IssuedAt is the "iat" claim, or the zero time when the token has none.
	IssuedAt time.Time
	// Roles are the strings of the configured roles claim (Config.RolesClaim);
	// nil when the token has none.
	Roles []string
}

// HasRole reports whether the bearer holds role.
func (c Claims) HasRole(role string) bool {
	return role != "" && slices.Contains(c.Roles, role)
}

// errSubject describes why a subject is unacceptable.
var (
	errSubjectEmpty   = errors.New("user ID is empty")
	errSubjectTooLong = fmt.Errorf("user ID is longer than %d bytes", MaxSubjectLen)
	errSubjectChars   = errors.New("user ID contains invalid UTF-8 or control characters")
)

// checkSubject enforces the rules on "sub" shared by Verify and Mint.
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return errSubjectEmpty
	case len(sub) > MaxSubjectLen:
		return errSubjectTooLong
	case !utf8.ValidString(sub):
		return errSubjectChars
	}
	for _, r := range sub {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return errSubjectChars
		}
	}
	return nil
}
