package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/taskflow/taskflow/auth"
)

func TestMint(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, auth.Config{Secret: []byte(auth.DevSecret), Issuer: testIssuer, Audience: testAudience})
	now := time.Now().Truncate(time.Second)

	tests := []struct {
		name    string
		secret  []byte
		user    string
		opts    auth.MintOptions
		wantTTL time.Duration // checked when the token is valid
		wantErr string        // substring of Mint's error
		verify  string        // expected Verify reason; "" means accepted
	}{
		{name: "defaults", secret: []byte(auth.DevSecret), user: "alice", opts: auth.MintOptions{Issuer: testIssuer, Audience: testAudience}, wantTTL: auth.DefaultTTL},
		{name: "explicit ttl and now", secret: []byte(auth.DevSecret), user: "bob", opts: auth.MintOptions{Issuer: testIssuer, Audience: testAudience, TTL: 2 * time.Hour, Now: now}, wantTTL: 2 * time.Hour},
		{name: "issued in the past, expired", secret: []byte(auth.DevSecret), user: "alice", opts: auth.MintOptions{Issuer: testIssuer, Audience: testAudience, TTL: time.Hour, Now: now.Add(-2 * time.Hour)}, verify: "token expired"},
		{name: "without issuer", secret: []byte(auth.DevSecret), user: "alice", opts: auth.MintOptions{Audience: testAudience}, verify: "token missing iss claim"},
		{name: "wrong audience", secret: []byte(auth.DevSecret), user: "alice", opts: auth.MintOptions{Issuer: testIssuer, Audience: "other"}, verify: "token audience invalid"},
		{name: "other secret", secret: []byte(testSecret), user: "alice", opts: auth.MintOptions{Issuer: testIssuer, Audience: testAudience}, verify: "token signature invalid"},
		{name: "short secret", secret: []byte("short"), user: "alice", wantErr: "secret must be at least 32 bytes"},
		{name: "empty user", secret: []byte(auth.DevSecret), user: "", wantErr: "user ID is empty"},
		{name: "user too long", secret: []byte(auth.DevSecret), user: strings.Repeat("u", auth.MaxSubjectLen+1), wantErr: "longer than 255 bytes"},
		{name: "user with control character", secret: []byte(auth.DevSecret), user: "alice\r\n", wantErr: "control characters"},
		{name: "user with invalid UTF-8", secret: []byte(auth.DevSecret), user: "al\xffice", wantErr: "invalid UTF-8"},
		{name: "negative ttl", secret: []byte(auth.DevSecret), user: "alice", opts: auth.MintOptions{TTL: -time.Minute}, wantErr: "TTL must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, err := auth.Mint(tt.secret, tt.user, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Mint error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			got := checkVerify(t, v, token, tt.verify)
			if tt.verify != "" {
				return
			}
			if got.UserID != tt.user {
				t.Errorf("UserID = %q, want %q", got.UserID, tt.user)
			}
			if ttl := got.ExpiresAt.Sub(got.IssuedAt); ttl != tt.wantTTL {
				t.Errorf("exp - iat = %s, want %s", ttl, tt.wantTTL)
			}
			if !tt.opts.Now.IsZero() && !got.IssuedAt.Equal(tt.opts.Now) {
				t.Errorf("IssuedAt = %s, want %s", got.IssuedAt, tt.opts.Now)
			}
		})
	}
}
