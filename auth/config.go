// Package auth verifies the JSON Web Tokens that authenticate TaskFlow's HTTP
// APIs and mints development tokens.
//
// Two key sources are supported and may be combined: a shared HS256 secret
// (Config.Secret) and a remote JWK Set (Config.JWKSURL) for the asymmetric
// algorithms RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA. The
// algorithm named in a token only ever selects among keys of its own family:
// HS256 is verified with the secret and nothing else, asymmetric algorithms
// only with JWK Set keys whose type and curve match, so algorithm-confusion
// and "alg: none" tokens are refused.
package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// DevSecret is the documented development HS256 secret used by `make run` and
// `taskflow token`. Never use it in production.
const DevSecret = "taskflow-dev-secret-change-me-0123456789"

// MinSecretLen is the minimum HS256 secret length in bytes (RFC 7518 §3.2:
// a key at least as long as the hash output).
const MinSecretLen = 32

// DefaultJWKSRefresh is the JWK Set refresh interval used when
// Config.JWKSRefresh is zero.
const DefaultJWKSRefresh = time.Hour

// ErrInvalidConfig is wrapped by every problem Config.Validate reports.
var ErrInvalidConfig = errors.New("invalid auth config")

// Config configures a Verifier. The zero value is invalid: set Secret,
// JWKSURL or both.
//
// A Config is a plain value; New copies what it needs, so the caller may reuse
// or modify it afterwards.
type Config struct {
	// Secret is the HS256 key, at least MinSecretLen bytes. Empty disables
	// HS256.
	Secret []byte
	// Issuer, when non-empty, must equal the token's "iss" claim.
	Issuer string
	// Audience, when non-empty, must appear in the token's "aud" claim.
	Audience string
	// JWKSURL is the absolute http(s) URL of a JWK Set with the public keys
	// for the asymmetric algorithms. Empty disables them.
	JWKSURL string
	// Leeway is the clock skew tolerated on "exp", "nbf" and "iat". Zero means
	// none.
	Leeway time.Duration
	// JWKSRefresh is how often the JWK Set is fetched in the background. Zero
	// means DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// RolesClaim names the claim that lists the bearer's roles: a string or
	// an array of strings, reached through objects by a dotted path
	// ("realm_access.roles" for Keycloak). Empty means DefaultRolesClaim.
	RolesClaim string
}

// DefaultRolesClaim is the claim Verify reads roles from by default, and
// the one Mint writes.
const DefaultRolesClaim = "roles"

// Validate reports every problem with c at once, each wrapping
// ErrInvalidConfig, joined with errors.Join. It returns nil when c is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}

	if len(c.Secret) == 0 && c.JWKSURL == "" {
		bad("Secret or JWKSURL is required")
	}
	if n := len(c.Secret); n > 0 && n < MinSecretLen {
		bad("Secret must be at least %d bytes for HS256, got %d", MinSecretLen, n)
	}
	if c.JWKSURL != "" {
		if err := validateJWKSURL(c.JWKSURL); err != nil {
			bad("JWKSURL %w", err)
		}
		// An identity provider signs tokens for many applications and
		// tenants: without both checks a token it issued for another
		// audience, or another issuer behind the same keys, would pass.
		if c.Issuer == "" {
			bad("Issuer is required with JWKSURL")
		}
		if c.Audience == "" {
			bad("Audience is required with JWKSURL")
		}
	}
	if c.Leeway < 0 {
		bad("Leeway must not be negative, got %s", c.Leeway)
	}
	if c.JWKSRefresh < 0 {
		bad("JWKSRefresh must not be negative, got %s", c.JWKSRefresh)
	}
	return errors.Join(errs...)
}

func validateJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.Host == "" {
		return errors.New("must have a host")
	}
	return nil
}

// LogValue implements slog.LogValuer; it never logs the secret, only whether
// one is set.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("secret_set", len(c.Secret) > 0),
		slog.String("issuer", c.Issuer),
		slog.String("audience", c.Audience),
		slog.String("jwks_url", c.JWKSURL),
		slog.Duration("leeway", c.Leeway),
		slog.Duration("jwks_refresh", c.JWKSRefresh),
	)
}
