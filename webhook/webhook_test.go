package webhook_test

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskflow/taskflow/webhook"
)

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in     string
		allowPrivate bool
		want         string // "" when refused
		why          string // part of the refusal
	}{
		{name: "https", in: "https://hooks.example.com/taskflow?x=1", want: "https://hooks.example.com/taskflow?x=1"},
		{name: "trimmed and lower-cased", in: "  HTTP://Hooks.Example.COM:8443/In ", want: "http://hooks.example.com:8443/In"},
		{name: "public IP", in: "http://93.184.215.14/hook", want: "http://93.184.215.14/hook"},
		{name: "empty", in: "", why: "required"},
		{name: "ftp", in: "ftp://example.com/x", why: "http or https"},
		{name: "relative", in: "/hook", why: "http or https"},
		{name: "no host", in: "https:///hook", why: "host"},
		{name: "opaque", in: "https:example.com", why: "host"},
		{name: "credentials", in: "https://user:pw@example.com/", why: "credentials"},
		{name: "fragment", in: "https://example.com/#x", why: "fragment"},
		{name: "bad port", in: "https://example.com:99999/", why: "port"},
		{name: "control character", in: "https://example.com/a\tb", why: "control"},
		{name: "too long", in: "https://example.com/" + strings.Repeat("a", webhook.MaxURLLength), why: "at most"},
		{name: "loopback", in: "http://127.0.0.1:8080/", why: "loopback"},
		{name: "loopback v6", in: "http://[::1]/", why: "loopback"},
		{name: "v4-mapped loopback", in: "http://[::ffff:127.0.0.1]/", why: "loopback"},
		{name: "private", in: "http://10.1.2.3/", why: "private"},
		{name: "link-local metadata", in: "http://169.254.169.254/latest/meta-data", why: "link-local"},
		{name: "unspecified", in: "http://0.0.0.0/", why: "non-public"},
		{name: "CGNAT", in: "http://100.64.0.1/", why: "non-public"},
		{name: "localhost", in: "http://localhost:9000/", why: "localhost"},
		{name: "sub.localhost", in: "http://api.localhost./", why: "localhost"},
		{name: "loopback allowed", in: "http://127.0.0.1:8080/x", allowPrivate: true, want: "http://127.0.0.1:8080/x"},
		{name: "localhost allowed", in: "http://localhost/x", allowPrivate: true, want: "http://localhost/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := webhook.NormalizeURL(tc.in, tc.allowPrivate)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("NormalizeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("NormalizeURL(%q) = %q, %v; want an error about %q", tc.in, got, err, tc.why)
			}
		})
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700:4700::1111": true, "93.184.215.14": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "255.255.255.255": false, "100.64.1.1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::a00:1": false, "198.18.0.1": false, "::127.0.0.1": false, "2002:7f00:1::": false,
		"2001:0:4136:e378::1": false, "fec0::1": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestNormalizeEventTypes(t *testing.T) {
	t.Parallel()
	got, err := webhook.NormalizeEventTypes([]string{"task.completed", "task.created", "task.completed"})
	if err != nil || !slices.Equal(got, []string{"task.completed", "task.created"}) {
		t.Fatalf("got %v %v", got, err)
	}
	if got, err := webhook.NormalizeEventTypes([]string{"*"}); err != nil || !slices.Equal(got, []string{"*"}) {
		t.Fatalf("* = %v %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"task.exploded"}, {"TASK.CREATED"}, {""}, slices.Repeat([]string{"*"}, 11)} {
		if _, err := webhook.NormalizeEventTypes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if !webhook.Wants([]string{"*"}, "task.overdue") || !webhook.Wants([]string{"task.created"}, "task.created") ||
		webhook.Wants([]string{"task.created"}, "task.deleted") {
		t.Error("Wants")
	}
}

// TestSignature: the documented construction (hex HMAC-SHA256 of
// timestamp "." body, keyed with the secret string), checked against a
// value computed independently (openssl dgst -sha256 -hmac), and Verify's
// tolerance and tampering checks.
func TestSignature(t *testing.T) {
	t.Parallel()
	secret := "whsec_test"
	body := []byte(`{"event_type":"task.created"}`)
	// printf '%s' '1767225600.{"event_type":"task.created"}' | openssl dgst -sha256 -hmac whsec_test
	const want = "v1=f7ebe0b4035cf0047c16080939860f81476eebf75e34a49a1e32e82cd910a6ab"
	got := webhook.Sign(secret, 1767225600, body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	at := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(at.Unix(), 10)
	if err := webhook.Verify(secret, ts, got, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := webhook.Verify(secret, ts, "v1=00,"+got, body, at, 5*time.Minute); err != nil {
		t.Fatalf("a second signature in the header: %v", err)
	}
	for name, check := range map[string]error{
		"other body":   webhook.Verify(secret, ts, got, append(body, ' '), at, 5*time.Minute),
		"other secret": webhook.Verify("whsec_other", ts, got, body, at, 5*time.Minute),
		"other time":   webhook.Verify(secret, strconv.FormatInt(at.Unix()+1, 10), got, body, at, 5*time.Minute),
		"too old":      webhook.Verify(secret, ts, got, body, at.Add(6*time.Minute), 5*time.Minute),
		"bad time":     webhook.Verify(secret, "soon", got, body, at, 5*time.Minute),
	} {
		if check == nil {
			t.Errorf("%s: verified", name)
		}
	}
	a, _ := webhook.NewSecret()
	b, _ := webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p := webhook.DefaultPolicy
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, p.Delay(n, 0.5))
	}
	want := []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 135 * time.Second, 405 * time.Second,
		1215 * time.Second, time.Hour, time.Hour}
	if !slices.Equal(got, want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	if lo, hi := p.Delay(1, 0), p.Delay(1, 0.999999); lo != 4*time.Second || hi < 5990*time.Millisecond || hi > 6*time.Second {
		t.Fatalf("jitter range %v..%v", lo, hi)
	}
	now := time.Unix(1767225600, 0)
	half := func() float64 { return 0.5 }
	res := webhook.Result{Status: 500, Error: "HTTP 500"}
	d := p.AfterFailure(now, 1, 1, res, half)
	if d.Disable || !d.DeliveryRetryAt.Equal(now.Add(5*time.Second)) || !d.WebhookRetryAt.Equal(now.Add(5*time.Second)) {
		t.Fatalf("first failure: %+v", d)
	}
	d = p.AfterFailure(now, 2, 9, res, half)
	if d.Disable || !d.DeliveryRetryAt.Equal(now.Add(15*time.Second)) || !d.WebhookRetryAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ninth failure in a row: %+v", d)
	}
	d = p.AfterFailure(now, p.MaxFailures, p.MaxFailures, res, half)
	if !d.Disable || !d.DeliveryRetryAt.IsZero() || !strings.Contains(d.DisabledReason, "HTTP 500") {
		t.Fatalf("last failure: %+v", d)
	}
	if err := (webhook.Policy{}).Validate(); err == nil || !strings.Contains(err.Error(), "WEBHOOK_RETRY_BASE") ||
		!strings.Contains(err.Error(), "WEBHOOK_MAX_FAILURES") {
		t.Fatalf("zero policy: %v", err)
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://example.com/x", "http://127.0.0.1/", "http://[::ffff:10.0.0.1]:80/", "https://a@b/", "http://x/#y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := webhook.NormalizeURL(in, false)
		if err != nil {
			return
		}
		// What is accepted is stable, and stays accepted.
		again, err := webhook.NormalizeURL(out, false)
		if err != nil || again != out {
			t.Fatalf("NormalizeURL(%q) = %q, then %q, %v", in, out, again, err)
		}
		if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") {
			t.Fatalf("NormalizeURL(%q) = %q", in, out)
		}
	})
}
