// Package webhook is TaskFlow's outgoing webhooks: what a registration may
// hold, how a delivery is signed, when a failed one is retried and when a
// webhook is disabled, and the Dispatcher that POSTs the deliveries the
// auditor enqueues. It imports no Dapr, Fiber or pgx; the store behind it
// is postgres.Webhooks.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

// Errors the API maps to problem documents.
var (
	// ErrNotFound: no such webhook, or another user's (indistinguishable
	// on purpose).
	ErrNotFound = errors.New("webhook not found")
	// ErrTooMany: the user has MaxPerUser webhooks already.
	ErrTooMany = errors.New("too many webhooks")
)

// Limits of a registration.
const (
	MaxPerUser    = 20
	MaxURLLength  = 2048
	MaxEventTypes = 10
	// AllEvents subscribes to every event type, present and future.
	AllEvents = "*"
)

// Webhook is one registration as its owner sees it; the secret is never
// part of it (the API shows it once, on create and on rotation).
type Webhook struct {
	ID                  uuid.UUID  `json:"id"`
	URL                 string     `json:"url"`
	EventTypes          []string   `json:"event_types"`
	Active              bool       `json:"active"`
	DisabledReason      *string    `json:"disabled_reason"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastStatus          *int       `json:"last_status"`
	LastError           *string    `json:"last_error"`
	LastAttemptAt       *time.Time `json:"last_attempt_at"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateFailed    = "failed"
)

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID            uuid.UUID  `json:"id"`
	EventID       uuid.UUID  `json:"event_id"`
	EventType     string     `json:"event_type"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"` // pending only
	LastStatus    *int       `json:"last_status"`
	LastError     *string    `json:"last_error"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Wants reports whether a webhook subscribed to types receives typ.
func Wants(types []string, typ string) bool {
	return slices.Contains(types, AllEvents) || slices.Contains(types, typ)
}

// NormalizeURL checks a webhook URL and returns it canonical: http or
// https, a host, no credentials (the signature authenticates TaskFlow to
// the receiver; a password in the URL would be shown back and logged) and
// no fragment. Unless allowPrivate, a host that is a loopback, private,
// link-local or otherwise non-public address, or a name of localhost, is
// refused here already; names are resolved only when delivering, where
// the address actually dialled is checked again (see Transport).
func NormalizeURL(raw string, allowPrivate bool) (string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", errors.New("is required")
	case len(raw) > MaxURLLength:
		return "", fmt.Errorf("must be at most %d characters", MaxURLLength)
	case !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("must be a URL without control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("must be an absolute http or https URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must be an absolute http or https URL")
	case u.Opaque != "" || u.Hostname() == "":
		return "", errors.New("must be an absolute http or https URL with a host")
	case u.User != nil:
		return "", errors.New("must not contain credentials; verify the Webhook-Signature header instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("has an invalid port")
		}
	}
	u.Host = strings.ToLower(u.Host)
	if !allowPrivate {
		host := strings.TrimSuffix(u.Hostname(), ".")
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return "", errors.New("must not point at this machine (localhost)")
		}
		if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
			return "", fmt.Errorf("must not point at a %s address", addressKind(ip))
		}
	}
	return u.String(), nil
}

// NormalizeEventTypes checks a subscription: task event types (the names
// of task.EventTypes) or "*" for all, at least one, duplicates dropped.
func NormalizeEventTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, fmt.Errorf(`must name at least one event type (%s) or "*"`, typeNames())
	}
	if len(types) > MaxEventTypes {
		return nil, fmt.Errorf("must name at most %d event types", MaxEventTypes)
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		if t != AllEvents && !slices.Contains(task.EventTypes, task.EventType(t)) {
			return nil, fmt.Errorf(`%q is not an event type; use %s or "*"`, t, typeNames())
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func typeNames() string {
	names := make([]string, len(task.EventTypes))
	for i, t := range task.EventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// NewSecret returns a fresh signing secret: "whsec_" and 32 random bytes
// in base64url. The HMAC key is the whole string, as given to the user.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Headers of a delivery.
const (
	// HeaderID is the delivery's id: the same on every retry of it, so a
	// receiver drops repeats by it.
	HeaderID = "Webhook-Id"
	// HeaderEvent is the event's type, as in the body.
	HeaderEvent = "Webhook-Event"
	// HeaderTimestamp is the attempt's time in Unix seconds; it is signed.
	HeaderTimestamp = "Webhook-Timestamp"
	// HeaderSignature is "v1=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp, ".", and the body.
	HeaderSignature = "Webhook-Signature"
)

// Sign returns the Webhook-Signature value of body sent at timestamp.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a receiver does: the timestamp is within tolerance of
// now (so a captured request cannot be replayed later) and one of the
// signature header's comma-separated v1= values matches.
func Verify(secret, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return errors.New("webhook: bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: timestamp outside the tolerance")
	}
	want := Sign(secret, ts, body)
	for _, sig := range strings.Split(signatureHeader, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: signature mismatch")
}

// Policy says when a failed delivery is retried and when a webhook is
// disabled. The zero value is not usable; see DefaultPolicy.
type Policy struct {
	// RetryBase is the wait after the first failure (WEBHOOK_RETRY_BASE);
	// each further failure waits three times longer, up to RetryMax
	// (WEBHOOK_RETRY_MAX), each wait ±20 % at random.
	RetryBase, RetryMax time.Duration
	// MaxFailures: a delivery is attempted at most this often, and a
	// webhook whose last MaxFailures attempts all failed is disabled
	// (WEBHOOK_MAX_FAILURES).
	MaxFailures int
}

// DefaultPolicy: 5 s, 15 s, 45 s, 2¼ min, 7 min, 20 min, then hourly;
// disabled after 10 failures in a row, about 3½ hours of an endpoint down.
var DefaultPolicy = Policy{RetryBase: 5 * time.Second, RetryMax: time.Hour, MaxFailures: 10}

// Delay is the wait after the n-th failure in a row (n ≥ 1); jitter, in
// [0, 1), spreads retries (0.5 is none).
func (p Policy) Delay(n int, jitter float64) time.Duration {
	d := float64(p.RetryBase) * math.Pow(3, float64(max(n, 1)-1))
	d = min(d, float64(p.RetryMax))
	return time.Duration(d * (0.8 + 0.4*jitter))
}

// Validate reports every unusable setting at once.
func (p Policy) Validate() error {
	var errs []error
	if p.RetryBase <= 0 {
		errs = append(errs, errors.New("WEBHOOK_RETRY_BASE must be positive"))
	}
	if p.RetryMax < p.RetryBase {
		errs = append(errs, errors.New("WEBHOOK_RETRY_MAX must be at least WEBHOOK_RETRY_BASE"))
	}
	if p.MaxFailures < 1 {
		errs = append(errs, errors.New("WEBHOOK_MAX_FAILURES must be at least 1"))
	}
	return errors.Join(errs...)
}

// Patch changes a registration; nil fields stay as they are.
type Patch struct {
	URL        *string
	EventTypes []string
	// Active true re-enables the webhook (and forgets its failures, so a
	// delivery is attempted at once); false disables it.
	Active *bool
}

// Job is one attempt to make: a due delivery, with its webhook's current
// URL and secret, held by the dispatcher owner until its lease ends.
type Job struct {
	Webhook   uuid.UUID
	Owner     uuid.UUID
	Delivery  uuid.UUID
	URL       string
	Secret    string
	EventID   uuid.UUID
	EventType string
	Payload   []byte
}

// Result is what one attempt got.
type Result struct {
	At     time.Time
	OK     bool   // a 2xx answer
	Status int    // the HTTP status, 0 without an answer
	Error  string // why it failed; "" when OK
}

// Decision is what a failed attempt leads to.
type Decision struct {
	// DeliveryRetryAt is when the delivery is tried again; zero: never,
	// it has failed.
	DeliveryRetryAt time.Time
	// WebhookRetryAt: nothing goes to the webhook's URL before then.
	WebhookRetryAt time.Time
	// Disable the webhook, for DisabledReason.
	Disable        bool
	DisabledReason string
}

// AfterFailure decides about a failed attempt at now: attempts is the
// delivery's attempts and failures the webhook's failures in a row, both
// counting this one; jitter returns numbers in [0, 1).
//
// Both waits draw the same jitter, so while an endpoint is down the
// delivery that failed first is due exactly when the webhook's wait ends
// (attempts equal failures) or before (it is newer): it is the next
// probe, and the webhook's deliveries keep their order. Only one that
// keeps failing while others succeed (attempts above failures) waits
// longer and lets the others pass.
func (p Policy) AfterFailure(now time.Time, attempts, failures int, res Result, jitter func() float64) Decision {
	var d Decision
	j := jitter()
	if attempts < p.MaxFailures {
		d.DeliveryRetryAt = now.Add(p.Delay(attempts, j))
	}
	d.WebhookRetryAt = now.Add(p.Delay(failures, j))
	if failures >= p.MaxFailures {
		d.Disable = true
		d.DisabledReason = fmt.Sprintf("disabled after %d failed attempts in a row; the last: %s", failures, res.Error)
	}
	return d
}

// Recorded is what recording an attempt changed.
type Recorded struct {
	// Gone: the delivery or its webhook was deleted meanwhile.
	Gone bool
	// GaveUp: the delivery failed for good.
	GaveUp bool
	// Disabled: this failure disabled the webhook.
	Disabled bool
	// LeaseHeld: the job's owner still holds the webhook (the lease was
	// renewed); false when another dispatcher took it over.
	LeaseHeld bool
}
