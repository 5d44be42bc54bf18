package auth

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// MaxTokenLen is the longest raw token Verify will parse, in bytes.
const MaxTokenLen = 8 << 10

const (
	// jwksTimeout bounds one JWK Set fetch, and how long Verify may wait for
	// the unknown-kid rate limiter plus that fetch.
	jwksTimeout = 10 * time.Second
	// unknownKIDRefreshEvery rate-limits the JWK Set refreshes triggered by
	// tokens with an unknown "kid", so random kids cannot hammer the issuer.
	unknownKIDRefreshEvery = time.Minute
	// minRSABits is the smallest RSA modulus accepted for signatures.
	minRSABits = 2048
)

// Verifier checks JWTs against a Config. It is safe for concurrent use by
// multiple goroutines. When a JWKSURL is configured it owns a background
// goroutine that refreshes the JWK Set until the context given to New is done
// or Close is called.
type Verifier struct {
	secret   []byte         // nil when HS256 is disabled
	keys     jwkset.Storage // nil when the asymmetric algorithms are disabled
	parser   *jwt.Parser
	issuer   string
	audience string
	roles    []string // the roles claim's path
	stop     context.CancelFunc
	once     sync.Once
}

// New validates cfg and builds a Verifier. With a JWKSURL it fetches the JWK
// Set once (bounded by ctx and a 10 s timeout) and fails if that fetch fails,
// then refreshes it every cfg.JWKSRefresh, and on a token with an unknown
// "kid" at most once a minute, until ctx is done or Close is called. Refresh
// failures are logged to logger; the last good key set stays in use. A nil
// logger discards logs.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "auth")

	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v := &Verifier{
		parser:   jwt.NewParser(opts...),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		roles:    strings.Split(cmp.Or(cfg.RolesClaim, DefaultRolesClaim), "."),
	}
	if len(cfg.Secret) > 0 {
		v.secret = bytes.Clone(cfg.Secret)
		if string(cfg.Secret) == DevSecret {
			logger.WarnContext(ctx, "using the development HS256 secret; set a real secret outside development")
		}
	}
	if cfg.JWKSURL == "" {
		return v, nil
	}

	refresh := cfg.JWKSRefresh
	if refresh == 0 {
		refresh = DefaultJWKSRefresh
	}
	lifetime, stop := context.WithCancel(ctx)
	failFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(lifetime, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    &http.Client{Timeout: jwksTimeout},
		HTTPTimeout:               jwksTimeout,
		NoErrorReturnFirstHTTPReq: &failFirst,
		RateLimitWaitMax:          jwksTimeout,
		RefreshInterval:           refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(unknownKIDRefreshEvery), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.ErrorContext(ctx, "refresh JWK Set", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("load JWK Set from %s: %w", cfg.JWKSURL, err)
	}
	v.keys = kf.Storage()
	v.stop = stop
	return v, nil
}

// Close stops the background JWK Set refresh. Verify keeps working with the
// keys already fetched (and still refreshes on an unknown kid). Close is
// idempotent and safe to call concurrently with Verify.
func (v *Verifier) Close() {
	v.once.Do(func() {
		if v.stop != nil {
			v.stop()
		}
	})
}

// Verify checks raw (a compact JWS, without the "Bearer " prefix) and returns
// its claims. ctx bounds any JWK Set fetch caused by an unknown "kid".
//
// Every failure wraps ErrInvalidToken, and its message ends with a short
// reason safe to show to the client.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	switch {
	case raw == "":
		return Claims{}, invalid(reasonMissing)
	case len(raw) > MaxTokenLen:
		return Claims{}, invalid(reasonTooLarge)
	}

	var rc jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(raw, &rc, v.keyfunc(ctx))
	if err != nil {
		return Claims{}, invalid(v.reason(err, &rc))
	}
	if rc.Subject == "" {
		return Claims{}, invalid(reasonMissingSub)
	}
	if checkSubject(rc.Subject) != nil {
		return Claims{}, invalid(reasonSubject)
	}
	c := Claims{UserID: rc.Subject, ExpiresAt: rc.ExpiresAt.Time}
	if rc.IssuedAt != nil {
		c.IssuedAt = rc.IssuedAt.Time
	}
	c.Roles = v.rolesOf(raw)
	return c, nil
}

// rolesOf reads the roles claim of raw, a token whose signature has been
// verified. A claim of another shape than a string or an array of strings
// (its non-strings are skipped) grants no roles.
func (v *Verifier) rolesOf(raw string) []string {
	parts := strings.SplitN(raw, ".", 3)
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var node any
	if json.Unmarshal(payload, &node) != nil {
		return nil
	}
	for _, key := range v.roles {
		obj, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = obj[key]
	}
	switch val := node.(type) {
	case string:
		return []string{val}
	case []any:
		roles := make([]string, 0, len(val))
		for _, r := range val {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
		return roles
	}
	return nil
}

// keyError carries a client-safe reason out of the jwt.Keyfunc.
type keyError struct{ reason string }

func (e *keyError) Error() string { return e.reason }

// family groups the algorithms by the key type that may verify them.
type family int

const (
	famNone family = iota
	famHMAC
	famRSA
	famEC
	famEd
)

func algFamily(alg string) family {
	switch alg {
	case "HS256":
		return famHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return famRSA
	case "ES256", "ES384", "ES512":
		return famEC
	case "EdDSA":
		return famEd
	default: // "none", HS384, HS512 and anything unknown.
		return famNone
	}
}

// keyfunc selects the verification key. The algorithm comes from the token,
// but it only ever chooses among keys of its own family: the secret for HS256,
// JWK Set keys of the matching type (and curve) otherwise.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: we understand no extensions.
			return nil, &keyError{reasonHeader}
		}
		alg, _ := t.Header["alg"].(string)
		fam := algFamily(alg)
		switch {
		case fam == famNone:
			return nil, &keyError{reasonAlgorithm}
		case fam == famHMAC:
			if v.secret == nil {
				return nil, &keyError{reasonAlgorithm}
			}
			return v.secret, nil
		case v.keys == nil:
			return nil, &keyError{reasonAlgorithm}
		}

		kidv, hasKID := t.Header["kid"]
		if !hasKID {
			return v.keySet(ctx, alg)
		}
		kid, ok := kidv.(string)
		if !ok {
			return nil, &keyError{reasonHeader}
		}
		jwk, err := v.keys.KeyRead(ctx, kid)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &keyError{reasonKeyUnavailable}
			}
			return nil, &keyError{reasonUnknownKey}
		}
		key, ok := usableKey(jwk, alg)
		if !ok {
			return nil, &keyError{reasonKeyMismatch}
		}
		return key, nil
	}
}

// keySet returns every JWK Set key usable with alg, for tokens without "kid".
func (v *Verifier) keySet(ctx context.Context, alg string) (any, error) {
	all, err := v.keys.KeyReadAll(ctx)
	if err != nil {
		return nil, &keyError{reasonKeyUnavailable}
	}
	var set jwt.VerificationKeySet
	for _, jwk := range all {
		if key, ok := usableKey(jwk, alg); ok {
			set.Keys = append(set.Keys, key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, &keyError{reasonUnknownKey}
	}
	return set, nil
}

// usableKey returns the public key of jwk if it may verify a token signed
// with alg: the JWK's own "alg" and "use", when present, must agree, and the
// key type (and curve, and RSA size) must match the algorithm family.
func usableKey(jwk jwkset.JWK, alg string) (crypto.PublicKey, bool) {
	m := jwk.Marshal()
	if a := m.ALG.String(); a != "" && a != alg {
		return nil, false
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, false
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k, algFamily(alg) == famRSA && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		want := curveFor(alg)
		return k, want != nil && k.Curve == want
	case ed25519.PublicKey:
		return k, alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	default: // Symmetric ("oct") keys and anything else are never used.
		return nil, false
	}
}

// reason maps a jwt parse error to a client-safe reason. Claim errors can only
// occur after the signature has been verified, so they never reveal anything
// about forged tokens.
func (v *Verifier) reason(err error, rc *jwt.RegisteredClaims) string {
	var ke *keyError
	switch {
	case errors.As(err, &ke):
		return ke.reason
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Missing or unregistered "alg".
		return reasonAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return reasonSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reasonIssuedFuture
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case rc.ExpiresAt == nil:
			return reasonMissingExp
		case v.issuer != "" && rc.Issuer == "":
			return reasonMissingIss
		case v.audience != "" && (len(rc.Audience) == 0 || len(rc.Audience) == 1 && rc.Audience[0] == ""):
			return reasonMissingAud
		default:
			return reasonClaims
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reasonAudience
	default:
		return reasonClaims
	}
}

// curveFor returns the curve an ECDSA algorithm requires, or nil.
func curveFor(alg string) elliptic.Curve {
	switch alg {
	case "ES256":
		return elliptic.P256()
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	default:
		return nil
	}
}
