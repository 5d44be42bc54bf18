package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is the token lifetime Mint uses when MintOptions.TTL is zero.
const DefaultTTL = 24 * time.Hour

// MintOptions tune Mint. The zero value is usable.
type MintOptions struct {
	// Issuer and Audience, when non-empty, become the "iss" and "aud" claims;
	// set them to the Verifier's Config values.
	Issuer, Audience string
	// TTL is the token lifetime; zero means DefaultTTL.
	TTL time.Duration
	// Now is the issue time; zero means time.Now().
	Now time.Time
	// Roles, when set, become the DefaultRolesClaim claim.
	Roles []string
}

type mintClaims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// Mint returns an HS256 token for userID signed with secret, with "sub",
// "iat" and "exp" (and "iss"/"aud" when set) that a Verifier configured with
// the same secret, issuer and audience accepts. It is meant for development
// tooling (`taskflow token --user alice`) and tests; production tokens come
// from the identity provider. Mint is safe for concurrent use.
func Mint(secret []byte, userID string, opts MintOptions) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("mint token: secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	if err := checkSubject(userID); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	if opts.TTL < 0 {
		return "", errors.New("mint token: TTL must not be negative")
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	claims := mintClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   userID,
		Issuer:    opts.Issuer,
		IssuedAt:  jwt.NewNumericDate(opts.Now),
		ExpiresAt: jwt.NewNumericDate(opts.Now.Add(opts.TTL)),
	}, Roles: opts.Roles}
	if opts.Audience != "" {
		claims.Audience = jwt.ClaimStrings{opts.Audience}
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return signed, nil
}
