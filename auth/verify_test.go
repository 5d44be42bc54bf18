package auth_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskflow/taskflow/auth"
)

// reasons are every message Verify may return; clients see them.
var reasons = []string{
	"token missing",
	"token too large",
	"token malformed",
	"unexpected signing algorithm",
	"unsupported token header",
	"unknown signing key",
	"signing key does not match algorithm",
	"token signature invalid",
	"token expired",
	"token not valid yet",
	"token issued in the future",
	"token issuer invalid",
	"token audience invalid",
	"token missing exp claim",
	"token missing iss claim",
	"token missing aud claim",
	"token missing sub claim",
	"token subject invalid",
	"token claims invalid",
	"signing key unavailable",
}

func knownReason(msg string) bool {
	for _, r := range reasons {
		if msg == "invalid token: "+r {
			return true
		}
	}
	return false
}

// newVerifier builds a Verifier that lives until the test ends.
func newVerifier(tb testing.TB, cfg auth.Config) *auth.Verifier {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	v, err := auth.New(ctx, cfg, nil)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(v.Close)
	return v
}

// checkVerify verifies raw and compares the outcome with wantErr (a reason,
// or "" for success).
func checkVerify(tb testing.TB, v *auth.Verifier, raw, wantErr string) auth.Claims {
	tb.Helper()
	got, err := v.Verify(context.Background(), raw)
	if wantErr == "" {
		if err != nil {
			tb.Fatalf("Verify: unexpected error %v", err)
		}
		return got
	}
	if err == nil {
		tb.Fatalf("Verify: got claims %+v, want error %q", got, wantErr)
	}
	if !errors.Is(err, auth.ErrInvalidToken) {
		tb.Errorf("Verify error %v does not wrap ErrInvalidToken", err)
	}
	if want := "invalid token: " + wantErr; err.Error() != want {
		tb.Errorf("Verify error = %q, want %q", err, want)
	}
	if !knownReason(err.Error()) {
		tb.Errorf("Verify error %q is not a documented reason", err)
	}
	if raw != "" && strings.Contains(err.Error(), raw) {
		tb.Errorf("Verify error contains the token")
	}
	if !reflect.DeepEqual(got, auth.Claims{}) {
		tb.Errorf("Verify returned claims %+v with an error", got)
	}
	return got
}

func TestVerify(t *testing.T) {
	t.Parallel()
	k := fixtures(t)
	srv := newJWKSServer(t, publishedKeys(t)...)
	// One Verifier shared by all parallel subtests also exercises concurrent use.
	v := newVerifier(t, auth.Config{
		Secret:   []byte(testSecret),
		Issuer:   testIssuer,
		Audience: testAudience,
		JWKSURL:  srv.URL,
		Leeway:   30 * time.Second,
	})
	now := time.Now()
	valid := claims(now)
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsa, kidRSA, c) }
	noneHeader := map[string]any{"alg": "none", "typ": "JWT"}
	validHS := hs(valid)
	validRS := rs(valid)
	parts := strings.Split(validRS, ".")
	forgedPayload := strings.Split(rs(claims(now, set("sub", "mallory"))), ".")[1]
	long := strings.Repeat("a", auth.MaxSubjectLen)

	tests := []struct {
		name    string
		token   string
		wantErr string // "" means valid
		wantSub string
	}{
		// Accepted, one per algorithm family and key.
		{name: "HS256 with secret", token: validHS, wantSub: "alice"},
		{name: "RS256 RSA key", token: validRS, wantSub: "alice"},
		{name: "RS384 RSA key", token: sign(t, jwt.SigningMethodRS384, k.rsa, kidRSA, valid), wantSub: "alice"},
		{name: "RS512 RSA key", token: sign(t, jwt.SigningMethodRS512, k.rsa, kidRSA, valid), wantSub: "alice"},
		{name: "PS256 RSA key", token: sign(t, jwt.SigningMethodPS256, k.rsa, kidRSA, valid), wantSub: "alice"},
		{name: "PS512 RSA key", token: sign(t, jwt.SigningMethodPS512, k.rsa, kidRSA, valid), wantSub: "alice"},
		{name: "ES256 P-256 key", token: sign(t, jwt.SigningMethodES256, k.ec, kidEC, valid), wantSub: "alice"},
		{name: "EdDSA Ed25519 key", token: sign(t, jwt.SigningMethodEdDSA, k.ed, kidEd, valid), wantSub: "alice"},
		{name: "RS256 without kid tries matching keys", token: sign(t, jwt.SigningMethodRS256, k.rsa, "", valid), wantSub: "alice"},
		{name: "EdDSA without kid tries matching keys", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "", valid), wantSub: "alice"},
		{name: "audience in array", token: hs(claims(now, set("aud", []string{"other", testAudience}))), wantSub: "alice"},
		{name: "no iat", token: hs(claims(now, del("iat"))), wantSub: "alice"},
		{name: "subject of max length", token: hs(claims(now, set("sub", long))), wantSub: long},
		{name: "unicode subject", token: hs(claims(now, set("sub", "zoë@example.com"))), wantSub: "zoë@example.com"},
		{name: "expired within leeway", token: hs(claims(now, set("exp", now.Add(-5*time.Second).Unix()))), wantSub: "alice"},
		{name: "nbf within leeway", token: hs(claims(now, set("nbf", now.Add(5*time.Second).Unix()))), wantSub: "alice"},
		{name: "nbf in the past", token: hs(claims(now, set("nbf", now.Add(-time.Minute).Unix()))), wantSub: "alice"},
		{name: "iat within leeway", token: hs(claims(now, set("iat", now.Add(5*time.Second).Unix()))), wantSub: "alice"},

		// Time claims.
		{name: "expired", token: hs(claims(now, set("exp", now.Add(-time.Hour).Unix()))), wantErr: "token expired"},
		{name: "expired RS256", token: rs(claims(now, set("exp", now.Add(-time.Hour).Unix()))), wantErr: "token expired"},
		{name: "missing exp", token: hs(claims(now, del("exp"))), wantErr: "token missing exp claim"},
		{name: "exp not a number", token: hs(claims(now, set("exp", "tomorrow"))), wantErr: "token malformed"},
		{name: "nbf in the future", token: hs(claims(now, set("nbf", now.Add(time.Hour).Unix()))), wantErr: "token not valid yet"},
		{name: "iat in the future", token: hs(claims(now, set("iat", now.Add(time.Hour).Unix()))), wantErr: "token issued in the future"},

		// Issuer and audience.
		{name: "wrong issuer", token: hs(claims(now, set("iss", "https://evil.test"))), wantErr: "token issuer invalid"},
		{name: "missing issuer", token: hs(claims(now, del("iss"))), wantErr: "token missing iss claim"},
		{name: "wrong audience", token: hs(claims(now, set("aud", "billing"))), wantErr: "token audience invalid"},
		{name: "wrong audience array", token: hs(claims(now, set("aud", []string{"billing", "ops"}))), wantErr: "token audience invalid"},
		{name: "missing audience", token: hs(claims(now, del("aud"))), wantErr: "token missing aud claim"},

		// Subject.
		{name: "missing sub", token: hs(claims(now, del("sub"))), wantErr: "token missing sub claim"},
		{name: "empty sub", token: hs(claims(now, set("sub", ""))), wantErr: "token missing sub claim"},
		{name: "sub too long", token: hs(claims(now, set("sub", long+"a"))), wantErr: "token subject invalid"},
		{name: "sub with newline", token: hs(claims(now, set("sub", "alice\nadmin"))), wantErr: "token subject invalid"},
		{name: "sub with NUL", token: hs(claims(now, set("sub", "alice\x00"))), wantErr: "token subject invalid"},
		{name: "sub with bidi override", token: hs(claims(now, set("sub", "alice\u202e"))), wantErr: "token subject invalid"},
		{name: "sub not a string", token: hs(claims(now, set("sub", 42))), wantErr: "token malformed"},

		// Signatures and algorithms.
		{name: "HS256 wrong secret", token: sign(t, jwt.SigningMethodHS256, []byte("another-secret-that-is-32-bytes-long!!"), "", valid), wantErr: "token signature invalid"},
		{name: "HS256 keyed with RSA public key PEM", token: sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), kidRSA, valid), wantErr: "token signature invalid"},
		{name: "HS256 keyed with oct JWK", token: sign(t, jwt.SigningMethodHS256, k.octKey, kidOct, valid), wantErr: "token signature invalid"},
		{name: "HS384 refused", token: sign(t, jwt.SigningMethodHS384, []byte(testSecret), "", valid), wantErr: "unexpected signing algorithm"},
		{name: "HS512 refused", token: sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", valid), wantErr: "unexpected signing algorithm"},
		{name: "alg none", token: craft(t, noneHeader, valid, ""), wantErr: "unexpected signing algorithm"},
		{name: "alg none with signature", token: craft(t, noneHeader, valid, parts[2]), wantErr: "unexpected signing algorithm"},
		{name: "alg None", token: craft(t, map[string]any{"alg": "None"}, valid, ""), wantErr: "unexpected signing algorithm"},
		{name: "alg missing", token: craft(t, map[string]any{"typ": "JWT"}, valid, parts[2]), wantErr: "unexpected signing algorithm"},
		{name: "alg not a string", token: craft(t, map[string]any{"alg": 256}, valid, parts[2]), wantErr: "unexpected signing algorithm"},
		{name: "RS256 signed by unpublished key", token: sign(t, jwt.SigningMethodRS256, k.rsaOther, kidRSA, valid), wantErr: "token signature invalid"},
		{name: "RS256 no kid unpublished key", token: sign(t, jwt.SigningMethodRS256, k.rsaOther, "", valid), wantErr: "token signature invalid"},
		{name: "RS256 tampered payload", token: parts[0] + "." + forgedPayload + "." + parts[2], wantErr: "token signature invalid"},
		{name: "RS256 signature stripped", token: parts[0] + "." + parts[1] + ".", wantErr: "token signature invalid"},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rotated-away", valid), wantErr: "unknown signing key"},
		{name: "RS256 with EC kid", token: sign(t, jwt.SigningMethodRS256, k.rsa, kidEC, valid), wantErr: "signing key does not match algorithm"},
		{name: "ES256 with RSA kid", token: sign(t, jwt.SigningMethodES256, k.ec, kidRSA, valid), wantErr: "signing key does not match algorithm"},
		{name: "ES384 with P-256 kid", token: sign(t, jwt.SigningMethodES384, k.ec384, kidEC, valid), wantErr: "signing key does not match algorithm"},
		{name: "EdDSA with RSA kid", token: sign(t, jwt.SigningMethodEdDSA, k.ed, kidRSA, valid), wantErr: "signing key does not match algorithm"},
		{name: "RS256 with oct kid", token: sign(t, jwt.SigningMethodRS256, k.rsa, kidOct, valid), wantErr: "signing key does not match algorithm"},
		{name: "RS256 with 1024-bit key", token: sign(t, jwt.SigningMethodRS256, k.rsaSmall, kidSmallRSA, valid), wantErr: "signing key does not match algorithm"},
		{name: "RS256 with use=enc key", token: sign(t, jwt.SigningMethodRS256, k.rsa, kidEncRSA, valid), wantErr: "signing key does not match algorithm"},
		{name: "PS256 with JWK alg ES256", token: sign(t, jwt.SigningMethodPS256, k.rsa, kidEC, valid), wantErr: "signing key does not match algorithm"},
		{name: "ES384 without kid, no P-384 key", token: sign(t, jwt.SigningMethodES384, k.ec384, "", valid), wantErr: "unknown signing key"},
		{name: "kid not a string", token: craft(t, map[string]any{"alg": "RS256", "kid": 7}, valid, parts[2]), wantErr: "unsupported token header"},
		{name: "crit header", token: craft(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, valid, ""), wantErr: "unsupported token header"},

		// Malformed input.
		{name: "empty", token: "", wantErr: "token missing"},
		{name: "too large", token: strings.Repeat("a", auth.MaxTokenLen+1), wantErr: "token too large"},
		{name: "one segment", token: "abc", wantErr: "token malformed"},
		{name: "two segments", token: parts[0] + "." + parts[1], wantErr: "token malformed"},
		{name: "four segments", token: validHS + ".x", wantErr: "token malformed"},
		{name: "bearer prefix left on", token: "Bearer " + validHS, wantErr: "token malformed"},
		{name: "header not base64", token: "!!!." + parts[1] + "." + parts[2], wantErr: "token malformed"},
		{name: "header not JSON", token: "bm90IGpzb24." + parts[1] + "." + parts[2], wantErr: "token malformed"},
		{name: "payload not JSON", token: parts[0] + ".bm90IGpzb24." + parts[2], wantErr: "token malformed"},
		{name: "padded base64", token: parts[0] + "=." + parts[1] + "." + parts[2], wantErr: "token malformed"},
		{name: "signature not base64", token: parts[0] + "." + parts[1] + ".***", wantErr: "token malformed"},
		{name: "dots only", token: "..", wantErr: "token malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := checkVerify(t, v, tt.token, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if got.UserID != tt.wantSub {
				t.Errorf("UserID = %q, want %q", got.UserID, tt.wantSub)
			}
			if got.ExpiresAt.IsZero() {
				t.Error("ExpiresAt is zero")
			}
		})
	}
}

// TestVerifyKeySources checks that a Verifier only accepts the algorithm
// families it has keys for, so neither key source can be confused for the
// other.
func TestVerifyKeySources(t *testing.T) {
	t.Parallel()
	k := fixtures(t)
	srv := newJWKSServer(t, publishedKeys(t)...)
	secretOnly := newVerifier(t, auth.Config{Secret: []byte(testSecret)})
	jwksOnly := newVerifier(t, auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL})
	now := time.Now()
	c := claims(now)

	tests := []struct {
		name    string
		v       *auth.Verifier
		token   string
		wantErr string
	}{
		{name: "secret only: HS256", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)},
		{name: "secret only: RS256 refused", v: secretOnly, token: sign(t, jwt.SigningMethodRS256, k.rsa, kidRSA, c), wantErr: "unexpected signing algorithm"},
		{name: "secret only: ES256 refused", v: secretOnly, token: sign(t, jwt.SigningMethodES256, k.ec, kidEC, c), wantErr: "unexpected signing algorithm"},
		{name: "secret only: EdDSA refused", v: secretOnly, token: sign(t, jwt.SigningMethodEdDSA, k.ed, kidEd, c), wantErr: "unexpected signing algorithm"},
		{name: "secret only: HS256 keyed with RSA PEM", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "", c), wantErr: "token signature invalid"},
		{name: "jwks only: RS256", v: jwksOnly, token: sign(t, jwt.SigningMethodRS256, k.rsa, kidRSA, c)},
		{name: "jwks only: HS256 refused", v: jwksOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c), wantErr: "unexpected signing algorithm"},
		{name: "jwks only: HS256 keyed with RSA PEM", v: jwksOnly, token: sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), kidRSA, c), wantErr: "unexpected signing algorithm"},
		{name: "jwks only: HS256 keyed with oct JWK", v: jwksOnly, token: sign(t, jwt.SigningMethodHS256, k.octKey, kidOct, c), wantErr: "unexpected signing algorithm"},
		// Without Issuer and Audience configured, any values are accepted.
		{name: "no iss/aud configured: other values", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, set("iss", "x"), set("aud", "y")))},
		{name: "no iss/aud configured: absent", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, del("iss"), del("aud")))},
		{name: "no leeway: just expired", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, set("exp", now.Add(-5*time.Second).Unix()))), wantErr: "token expired"},
		{name: "no leeway: nbf just ahead", v: secretOnly, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, set("nbf", now.Add(5*time.Second).Unix()))), wantErr: "token not valid yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkVerify(t, tt.v, tt.token, tt.wantErr)
		})
	}
}

// TestVerifyRefreshUnknownKID checks that a token signed by a newly published
// key is accepted after one refresh, and that further unknown kids do not
// cause more fetches (rate limited) nor block.
func TestVerifyRefreshUnknownKID(t *testing.T) {
	t.Parallel()
	k := fixtures(t)
	rsaKey := jwk(t, &k.rsa.PublicKey, kidRSA, "", "")
	srv := newJWKSServer(t, rsaKey)
	v := newVerifier(t, auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL})
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times by New, want 1", got)
	}
	c := claims(time.Now())

	// The issuer rotates in a new key before the Verifier's next refresh.
	srv.setKeys(t, rsaKey, jwk(t, k.ed.Public(), "ed-2", "", ""))
	got := checkVerify(t, v, sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-2", c), "")
	if got.UserID != "alice" {
		t.Errorf("UserID = %q, want alice", got.UserID)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times after unknown kid, want 2", got)
	}

	for range 5 {
		checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, "ghost", c), "unknown signing key")
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after rate-limited unknown kids, want 2", got)
	}
	// Known keys keep working.
	checkVerify(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, kidRSA, c), "")
}

func TestVerifyCanceledContextUnknownKID(t *testing.T) {
	t.Parallel()
	k := fixtures(t)
	srv := newJWKSServer(t, publishedKeys(t)...)
	v := newVerifier(t, auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "ghost", claims(time.Now())))
	if !errors.Is(err, auth.ErrInvalidToken) || err.Error() != "invalid token: signing key unavailable" {
		t.Errorf("Verify with canceled ctx = %v, want signing key unavailable", err)
	}
	// A known kid needs no fetch and works regardless of ctx.
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, kidRSA, claims(time.Now()))); err != nil {
		t.Errorf("Verify known kid with canceled ctx: %v", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	good := newJWKSServer(t, publishedKeys(t)...)
	down := newJWKSServer(t)
	down.setFailing(true)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name       string
		ctx        context.Context
		cfg        auth.Config
		wantErr    bool
		wantConfig bool // the error wraps ErrInvalidConfig
	}{
		{name: "secret", ctx: context.Background(), cfg: auth.Config{Secret: []byte(auth.DevSecret)}},
		{name: "jwks", ctx: context.Background(), cfg: auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: good.URL, JWKSRefresh: time.Minute}},
		{name: "invalid config", ctx: context.Background(), cfg: auth.Config{}, wantErr: true, wantConfig: true},
		{name: "jwks unavailable", ctx: context.Background(), cfg: auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: down.URL}, wantErr: true},
		{name: "jwks unreachable", ctx: context.Background(), cfg: auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: "http://127.0.0.1:1/jwks.json"}, wantErr: true},
		{name: "context canceled", ctx: canceled, cfg: auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: good.URL}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := auth.New(tt.ctx, tt.cfg, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, wantErr %v", err, tt.wantErr)
			}
			if got := errors.Is(err, auth.ErrInvalidConfig); got != tt.wantConfig {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v, want %v (err %v)", got, tt.wantConfig, err)
			}
			if err != nil {
				if v != nil {
					t.Error("New returned a Verifier with an error")
				}
				return
			}
			v.Close()
			v.Close() // idempotent
		})
	}
}

func TestCloseKeepsVerifying(t *testing.T) {
	t.Parallel()
	k := fixtures(t)
	srv := newJWKSServer(t, publishedKeys(t)...)
	v := newVerifier(t, auth.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL, Secret: []byte(testSecret)})
	v.Close()
	c := claims(time.Now())
	checkVerify(t, v, sign(t, jwt.SigningMethodES256, k.ec, kidEC, c), "")
	checkVerify(t, v, sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c), "")
}

func TestSecretIsCopied(t *testing.T) {
	t.Parallel()
	secret := []byte(testSecret)
	v := newVerifier(t, auth.Config{Secret: secret})
	token := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(time.Now()))
	for i := range secret {
		secret[i] = 'x'
	}
	checkVerify(t, v, token, "")
}

func FuzzVerify(f *testing.F) {
	k := fixtures(f)
	srv := newJWKSServer(f, publishedKeys(f)...)
	v := newVerifier(f, auth.Config{
		Secret:   []byte(testSecret),
		Issuer:   testIssuer,
		Audience: testAudience,
		JWKSURL:  srv.URL,
		Leeway:   time.Minute,
	})
	now := time.Now()
	c := claims(now)
	for _, seed := range []string{
		sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", c),
		sign(f, jwt.SigningMethodRS256, k.rsa, kidRSA, c),
		sign(f, jwt.SigningMethodPS384, k.rsa, kidRSA, c),
		sign(f, jwt.SigningMethodES256, k.ec, kidEC, c),
		sign(f, jwt.SigningMethodEdDSA, k.ed, kidEd, c),
		sign(f, jwt.SigningMethodEdDSA, k.ed, "", c),
		sign(f, jwt.SigningMethodHS256, rsaPublicPEM(f), kidRSA, c),
		sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, del("exp"), set("sub", 1))),
		craft(f, map[string]any{"alg": "none"}, c, ""),
		craft(f, map[string]any{"alg": "RS256", "kid": []int{1}, "crit": "x"}, c, "AAAA"),
		"",
		".",
		"..",
		"a.b.c",
		"eyJhbGciOiJIUzI1NiJ9.e30.",
		"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjFlMzAwfQ.sig",
		"Bearer abc",
		"\x00\xff.\x80.\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if !knownReason(err.Error()) {
				t.Fatalf("error %q is not a documented reason", err)
			}
			if !reflect.DeepEqual(got, auth.Claims{}) {
				t.Fatalf("claims %+v returned with error", got)
			}
			return
		}
		if got.UserID == "" || len(got.UserID) > auth.MaxSubjectLen {
			t.Fatalf("accepted invalid subject %q", got.UserID)
		}
		if got.ExpiresAt.IsZero() {
			t.Fatal("accepted token without exp")
		}
	})
}
