package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://id.taskflow.test"
	testAudience = "taskflow-api"
	testSecret   = "0123456789abcdef0123456789abcdef-test"
	// Key IDs published by the test JWK Set.
	kidRSA      = "rsa-1"
	kidEC       = "ec-1"
	kidEd       = "ed-1"
	kidSmallRSA = "rsa-small"
	kidOct      = "oct-1"
	kidEncRSA   = "rsa-enc"
)

// keys are generated once per test binary; they are never modified.
type keys struct {
	rsa      *rsa.PrivateKey // published as kidRSA (no "alg") and kidEncRSA (use=enc)
	rsaOther *rsa.PrivateKey // never published
	rsaSmall *rsa.PrivateKey // 1024 bits, published as kidSmallRSA
	ec       *ecdsa.PrivateKey
	ec384    *ecdsa.PrivateKey // never published
	ed       ed25519.PrivateKey
	octKey   []byte // published as an "oct" key, which must never be used
}

var testKeys = sync.OnceValues(func() (*keys, error) {
	var k keys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	k.octKey = []byte("an-oct-key-that-must-never-verify-anything")
	return &k, nil
})

func fixtures(tb testing.TB) *keys {
	tb.Helper()
	k, err := testKeys()
	if err != nil {
		tb.Fatalf("generate keys: %v", err)
	}
	return k
}

// jwk builds a JWK for key with the given kid and metadata.
func jwk(tb testing.TB, key any, kid string, alg jwkset.ALG, use jwkset.USE) jwkset.JWK {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: use},
	})
	if err != nil {
		tb.Fatalf("jwk %s: %v", kid, err)
	}
	return j
}

// publishedKeys is the JWK Set most tests serve: one key per family plus
// keys that must be refused (too small, wrong use, symmetric).
func publishedKeys(tb testing.TB) []jwkset.JWK {
	tb.Helper()
	k := fixtures(tb)
	return []jwkset.JWK{
		jwk(tb, &k.rsa.PublicKey, kidRSA, "", ""),
		jwk(tb, &k.ec.PublicKey, kidEC, jwkset.AlgES256, jwkset.UseSig),
		jwk(tb, k.ed.Public(), kidEd, "", ""),
		jwk(tb, &k.rsaSmall.PublicKey, kidSmallRSA, "", ""),
		jwk(tb, &k.rsa.PublicKey, kidEncRSA, "", jwkset.UseEnc),
		jwk(tb, k.octKey, kidOct, "", ""),
	}
}

// jwksServer serves a JWK Set that tests can replace, counting fetches.
type jwksServer struct {
	URL   string
	mu    sync.Mutex
	body  []byte
	fails bool
	hits  atomic.Int64
}

func newJWKSServer(tb testing.TB, set ...jwkset.JWK) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	s.setKeys(tb, set...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, fails := s.body, s.fails
		s.mu.Unlock()
		if fails {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + "/.well-known/jwks.json"
	return s
}

func (s *jwksServer) setKeys(tb testing.TB, set ...jwkset.JWK) {
	tb.Helper()
	store := jwkset.NewMemoryStorage()
	for _, j := range set {
		if err := store.KeyWrite(context.Background(), j); err != nil {
			tb.Fatalf("write jwk: %v", err)
		}
	}
	// Private marshalling is needed to publish the "oct" key; every
	// asymmetric key in the set is public only.
	body, err := store.JSONPrivate(context.Background())
	if err != nil {
		tb.Fatalf("marshal jwks: %v", err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setFailing(fails bool) {
	s.mu.Lock()
	s.fails = fails
	s.mu.Unlock()
}

// claims returns valid claims relative to now, changed by mods.
func claims(now time.Time, mods ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iss": testIssuer,
		"aud": testAudience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func set(name string, v any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { c[name] = v }
}

func del(name string) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { delete(c, name) }
}

// sign signs c with method and key, setting the "kid" header when kid is
// non-empty.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// craft assembles a token from raw JSON header and claims and a raw signature,
// for tokens no library would sign.
func craft(tb testing.TB, header map[string]any, c jwt.MapClaims, sig string) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + sig
}

// rsaPublicPEM is the PKIX PEM encoding of the published RSA key, the
// classic HMAC key of an algorithm-confusion attack.
func rsaPublicPEM(tb testing.TB) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(&fixtures(tb).rsa.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
