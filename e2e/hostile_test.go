package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/taskflow/taskflow/auth"
)

// identityProvider is an in-test issuer: an RSA key published as a JWK Set.
type identityProvider struct {
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey // a key the JWK Set does not hold
	srv    *httptest.Server
	issuer string
	aud    string
}

func newIdentityProvider(t *testing.T) *identityProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := map[string]any{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}
	body, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &identityProvider{key: key, other: other, srv: srv, issuer: "https://id.e2e.example", aud: "taskflow"}
}

func (p *identityProvider) claims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iss": p.issuer, "aud": p.aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func (p *identityProvider) sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *identityProvider) token(t *testing.T, sub string) string {
	return p.sign(t, jwt.SigningMethodRS256, p.key, "k1", p.claims(sub))
}

// TestHostileCallers runs a stack that trusts an identity provider's
// JWKS (issuer and audience required) with the production write limit,
// and attacks it: forged and misdirected tokens at every app, one user
// reaching for another's data on every route, a burst of writes, and a
// corpus of malformed requests.
func TestHostileCallers(t *testing.T) {
	// Not parallel: its burst of 96 writes must reach the API within the
	// 1.8 s that the production rate (20/s past a burst of 60) takes to
	// let them all through, which a loaded machine may miss.
	idp := newIdentityProvider(t)
	e := startStack(t, stackOptions{env: map[string]string{
		"JWT_SECRET": "", "JWKS_URL": idp.srv.URL, "JWT_ISSUER": idp.issuer, "JWT_AUDIENCE": idp.aud,
		"API_WRITE_RATE": "20", "API_WRITE_BURST": "60",
	}})
	aliceID, bobID := "alice-"+uuid.NewString(), "bob-"+uuid.NewString()
	alice := &client{t: t, base: e.api, token: idp.token(t, aliceID)}
	bob := &client{t: t, base: e.api, token: idp.token(t, bobID)}

	t.Run("forged and misdirected tokens get 401 from every app", func(t *testing.T) {
		pubDER, _ := x509.MarshalPKIXPublicKey(&idp.key.PublicKey)
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
		with := func(k string, v any) jwt.MapClaims { c := idp.claims(aliceID); c[k] = v; return c }
		none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, idp.claims(aliceID)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		bad := map[string]string{
			"alg none":                  none,
			"HS256 with the public key": idp.sign(t, jwt.SigningMethodHS256, pubPEM, "k1", idp.claims(aliceID)),
			"HS256 with the dev secret": idp.sign(t, jwt.SigningMethodHS256, []byte(auth.DevSecret), "", idp.claims(aliceID)),
			"expired":                   idp.sign(t, jwt.SigningMethodRS256, idp.key, "k1", with("exp", time.Now().Add(-time.Minute).Unix())),
			"not yet valid":             idp.sign(t, jwt.SigningMethodRS256, idp.key, "k1", with("nbf", time.Now().Add(time.Hour).Unix())),
			"wrong issuer":              idp.sign(t, jwt.SigningMethodRS256, idp.key, "k1", with("iss", "https://evil.example")),
			"wrong audience":            idp.sign(t, jwt.SigningMethodRS256, idp.key, "k1", with("aud", "another-app")),
			"unknown kid":               idp.sign(t, jwt.SigningMethodRS256, idp.other, "k2", idp.claims(aliceID)),
			"right kid, another key":    idp.sign(t, jwt.SigningMethodRS256, idp.other, "k1", idp.claims(aliceID)),
			"garbage":                   "not.a.jwt",
		}
		targets := map[string]string{
			"api":      e.api + "/api/v1/tasks",
			"notifier": e.stack.App("notifier").URL + "/api/v1/notifications/stream",
			"auditor":  e.stack.App("auditor").URL + "/api/v1/audit/tasks/" + uuid.NewString(),
		}
		call := func(target, tok string) int {
			req, _ := http.NewRequest("GET", target, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for app, target := range targets {
			for name, tok := range bad {
				if got := call(target, tok); got != 401 {
					t.Errorf("%s with %s: %d, want 401", app, name, got)
				}
			}
		}
		// The good token works, so the 401s above are the tokens' doing.
		if got := call(targets["api"], alice.token); got != 200 {
			t.Fatalf("api with a good token: %d", got)
		}
		if got := call(targets["auditor"], alice.token); got != 404 {
			t.Fatalf("auditor with a good token, unknown task: %d", got)
		}
		st, status := openStream(t, e.stack.App("notifier").URL, alice.token, "")
		if status != 200 {
			t.Fatalf("notifier with a good token: %d", status)
		}
		st.close()
	})

	t.Run("another user's data is not there", func(t *testing.T) {
		due := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Alice's secret", "due_date": due.Format(time.RFC3339),
			"reminder_offset": "PT30M", "tags": []string{"private"}}).task(t)
		series := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "Alice's series",
			"due_date": time.Now().Add(time.Second).UTC().Format(time.RFC3339), "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=2;COUNT=2"}).task(t)
		alice.waitInstances(series.ID, 1)
		var op operation
		alice.must(202, "PATCH", "/api/v1/tasks/"+series.ID.String()+"?scope=series", map[string]any{"priority": "low"}).decode(t, &op)
		var rems struct {
			Items []struct {
				ID string `json:"reminder_id"`
			} `json:"items"`
		}
		alice.must(200, "GET", "/api/v1/tasks/"+tk.ID.String()+"/reminders", nil).decode(t, &rems)
		if len(rems.Items) == 0 {
			t.Fatal("alice's task has no reminder to reach for")
		}
		id, sid := tk.ID.String(), series.ID.String()
		for _, rt := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/tasks/" + id, nil},
			{"PATCH", "/api/v1/tasks/" + id, map[string]any{"title": "bob was here"}},
			{"DELETE", "/api/v1/tasks/" + id, nil},
			{"POST", "/api/v1/tasks/" + id + "/complete", nil},
			{"POST", "/api/v1/tasks/" + id + "/uncomplete", nil},
			{"GET", "/api/v1/tasks/" + id + "/reminders", nil},
			{"POST", "/api/v1/tasks/" + id + "/reminders/" + rems.Items[0].ID + "/snooze", map[string]any{"for": "PT10M"}},
			{"GET", "/api/v1/tasks/" + sid + "/occurrences", nil},
			{"PATCH", "/api/v1/tasks/" + sid + "?scope=series", map[string]any{"title": "bob's now"}},
			{"DELETE", "/api/v1/tasks/" + sid + "?scope=series", nil},
			{"GET", "/api/v1/operations/" + op.ID.String(), nil},
		} {
			r := bob.do(rt.method, rt.path, rt.body)
			if r.status != 404 || strings.Contains(string(r.body), "alice") || strings.Contains(string(r.body), "Alice") {
				t.Errorf("bob %s %s = %d %s, want a plain 404", rt.method, rt.path, r.status, r.body)
			}
		}
		audit := &client{t: t, base: e.stack.App("auditor").URL, token: bob.token}
		for _, path := range []string{"/api/v1/audit/tasks/" + id, "/api/v1/audit/tasks/" + id + "/verify"} {
			if r := audit.do("GET", path, nil); r.status != 404 || strings.Contains(string(r.body), "Alice") {
				t.Errorf("bob GET auditor %s = %d %s", path, r.status, r.body)
			}
		}
		for _, q := range []string{"", "?q=secret", "?tag=private", "?status=all"} {
			var page struct{ Items []json.RawMessage }
			bob.must(200, "GET", "/api/v1/tasks"+q, nil).decode(t, &page)
			if len(page.Items) != 0 {
				t.Errorf("bob's list %q holds %d of alice's tasks", q, len(page.Items))
			}
		}
		if r := bob.do("GET", "/api/v1/ops/operations", nil); r.status != 403 {
			t.Errorf("bob at the ops view = %d", r.status)
		}
		// Alice's change reaches her stream and not bob's. The notifier
		// reads the topic from the newest offset once its consumer has
		// joined, which may be after the stack is up: edit until an edit
		// arrives, then once more.
		mine, _ := openStream(t, e.stack.App("notifier").URL, alice.token, "")
		theirs, _ := openStream(t, e.stack.App("notifier").URL, bob.token, "")
		arrived := false
		for deadline := time.Now().Add(60 * time.Second); !arrived && time.Now().Before(deadline); {
			title := "Alice's secret, edited " + uuid.NewString()[:8]
			alice.must(200, "PATCH", "/api/v1/tasks/"+id, map[string]any{"title": title})
			for wait := time.After(time.Second); !arrived; {
				select {
				case ev := <-mine.events:
					arrived = strings.Contains(ev.Data, title)
					continue
				case <-wait:
				}
				break
			}
		}
		if !arrived {
			t.Fatal("none of alice's edits reached her stream within 60 s")
		}
		alice.must(200, "PATCH", "/api/v1/tasks/"+id, map[string]any{"title": "Alice's secret, again"})
		mine.waitFor(t, "alice's second update", func(ev sseEvent) bool { return strings.Contains(ev.Data, "Alice's secret, again") })
		for len(theirs.events) > 0 {
			if ev := <-theirs.events; strings.Contains(ev.Data, "Alice") {
				t.Fatalf("bob's stream got alice's event %+v", ev)
			}
		}
		// Bob's replay from alice's event id gives him nothing of hers.
		if replay, status := openStream(t, e.stack.App("notifier").URL, bob.token, uuid.NewString()); status == 200 {
			replay.close()
		}
	})

	t.Run("a burst of writes is limited per user", func(t *testing.T) {
		burster := &client{t: t, base: e.api, token: idp.token(t, "burst-"+uuid.NewString())}
		var created, limited atomic.Int64
		var retryAfter atomic.Value
		var wg sync.WaitGroup
		start := time.Now()
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 12 {
					r := burster.do("POST", "/api/v1/tasks", map[string]any{"title": fmt.Sprintf("burst %d-%d", w, i)})
					switch r.status {
					case 201:
						created.Add(1)
					case 429:
						limited.Add(1)
						retryAfter.Store(r.header.Get("Retry-After"))
					default:
						t.Errorf("burst write = %d %s", r.status, r.body)
					}
				}
			}()
		}
		wg.Wait()
		if limited.Load() == 0 || created.Load() < 60 || retryAfter.Load() == nil || retryAfter.Load().(string) == "" {
			t.Fatalf("96 writes at once, in %v: %d created, %d limited (Retry-After %v); want the burst of 60 through and the rest 429",
				time.Since(start).Round(time.Millisecond), created.Load(), limited.Load(), retryAfter.Load())
		}
		// Someone else is not slowed down by it.
		alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "unaffected"})
	})

	t.Run("malformed requests never get a 5xx", func(t *testing.T) {
		deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
		tk := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "target"}).task(t)
		id := tk.ID.String()
		type req struct {
			method, path string
			body         []byte
			headers      []string
		}
		j := func(s string) []byte { return []byte(s) }
		corpus := []req{
			{"POST", "/api/v1/tasks", j(`{"title": 5}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "priority": 99999999999999999999999999}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": 1e309}`), nil},
			{"POST", "/api/v1/tasks", []byte("{\"title\": \"\xff\xfe invalid utf-8\"}"), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "nul \u0000 inside"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "description": "` + strings.Repeat("é", 20000) + `"}`), nil},
			{"POST", "/api/v1/tasks", j(deep), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "tags": [` + strings.Repeat(`"t",`, 5000) + `"t"]}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": "2026-13-45T99:99:99Z"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": "` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `", "recurrence_pattern": "FREQ=SECONDLY;INTERVAL=0"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": "` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `", "recurrence_pattern": "FREQ=YEARLY;BYMONTH=13;BYMONTHDAY=-40;UNTIL=99999999"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": "` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `", "reminder_offset": "P-1D"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "due_date": "` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `", "reminder_offset": "PT99999999999999999999H"}`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x"}`), []string{"Idempotency-Key", strings.Repeat("k", 10000)}},
			{"POST", "/api/v1/tasks", j(`{"title": "x"}`), []string{"Content-Type", "text/plain"}},
			{"POST", "/api/v1/tasks", j(`null`), nil},
			{"POST", "/api/v1/tasks", j(`{"title": "x", "title": "y", "unknown": {"a": [1, 2, {"b": null}]}}`), nil},
			{"PATCH", "/api/v1/tasks/" + id, j(`{"title": null, "completed": "yes"}`), nil},
			{"PATCH", "/api/v1/tasks/" + id, j(`{"title": "x"}`), []string{"If-Match", `W/"not-a-version"`}},
			{"PATCH", "/api/v1/tasks/" + id, j(`{"title": "x"}`), []string{"If-Match", `"99999999999999999999999999"`}},
			{"PATCH", "/api/v1/tasks/" + id + "?scope=everything", j(`{}`), nil},
			{"PATCH", "/api/v1/tasks/not-a-uuid", j(`{"title": "x"}`), nil},
			{"DELETE", "/api/v1/tasks/" + strings.Repeat("f", 5000), nil, nil},
			{"GET", "/api/v1/tasks?cursor=%25%25%25garbage", nil, nil},
			{"GET", "/api/v1/tasks?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"k":"x","v":[1e999]}`)), nil, nil},
			{"GET", "/api/v1/tasks?limit=99999999999999999999", nil, nil},
			{"GET", "/api/v1/tasks?due_before=yesterday&sort=../../etc&order=sideways", nil, nil},
			{"GET", "/api/v1/tasks?q=" + url.QueryEscape(strings.Repeat("%_\\", 2000)), nil, nil},
			{"GET", "/api/v1/tasks?tag=" + url.QueryEscape("\x00"), nil, nil},
			{"GET", "/api/v1/tasks/counts?timezone=Mars/Olympus_Mons", nil, nil},
			{"GET", "/api/v1/tasks/" + id + "/occurrences?limit=-1", nil, nil},
			{"POST", "/api/v1/tasks/" + id + "/reminders/" + uuid.NewString() + "/snooze", j(`{"for": "forever"}`), nil},
			{"POST", "/api/v1/tasks/preview", j(`{"recurrence_pattern": "FREQ=MINUTELY;COUNT=1000000000"}`), nil},
			{"GET", "/api/v1/ops/dead-letters/99999999999999999999999", nil, nil},
		}
		for _, c := range corpus {
			req, _ := http.NewRequest(c.method, e.api+c.path, bytes.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+alice.token)
			if c.body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			for i := 0; i+1 < len(c.headers); i += 2 {
				req.Header.Set(c.headers[i], c.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s %.80s: %v", c.method, c.path, err)
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s %.80s (body %.60q) = %d %s", c.method, c.path, c.body, resp.StatusCode, b)
			}
		}
		// A 10 MB body is refused from its announced length, before it is
		// sent (a client writing it anyway meets a closed connection, which
		// says nothing about the answer: read the answer to the headers).
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.api, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/v1/tasks HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
			"Content-Length: %d\r\n\r\n", alice.token, 10<<20)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		status, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 413") {
			t.Errorf("a 10 MB body announced: %q %v, want 413", status, err)
		}
		// The notifier's and the auditor's parameters.
		for _, target := range []string{
			e.stack.App("notifier").URL + "/api/v1/notifications/stream?last_event_id=" + url.QueryEscape("../../x\x00") + "&access_token=" + alice.token,
			e.stack.App("auditor").URL + "/api/v1/audit/tasks/" + id + "?cursor=%%%&limit=-5",
			e.stack.App("auditor").URL + "/api/v1/audit/tasks/not-a-uuid",
		} {
			req, _ := http.NewRequest("GET", target, nil)
			req.Header.Set("Authorization", "Bearer "+alice.token)
			req.Header.Set("Last-Event-ID", strings.Repeat("9", 5000))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("GET %.100s = %d", target, resp.StatusCode)
			}
		}
	})
}
