package auth_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/taskflow/taskflow/auth"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  auth.Config
		want []string // substrings of the error; none means valid
	}{
		{name: "dev secret", cfg: auth.Config{Secret: []byte(auth.DevSecret)}},
		{name: "jwks only", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "https://id.example.com/.well-known/jwks.json"}},
		{name: "http jwks", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "http://keycloak:8080/realms/taskflow/protocol/openid-connect/certs"}},
		{name: "both with options", cfg: auth.Config{
			Secret: []byte(auth.DevSecret), JWKSURL: "https://id.example.com/jwks", Issuer: "i", Audience: "a",
			Leeway: time.Minute, JWKSRefresh: 10 * time.Minute,
		}},
		{name: "empty", cfg: auth.Config{}, want: []string{"Secret or JWKSURL is required"}},
		{name: "short secret", cfg: auth.Config{Secret: make([]byte, 31)}, want: []string{"Secret must be at least 32 bytes for HS256, got 31"}},
		{name: "relative jwks url", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "/jwks.json"}, want: []string{"JWKSURL must be an absolute http or https URL"}},
		{name: "ftp jwks url", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "ftp://id.example.com/jwks"}, want: []string{"JWKSURL must be an absolute http or https URL"}},
		{name: "jwks url without host", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "https:///jwks"}, want: []string{"JWKSURL must have a host"}},
		{name: "unparsable jwks url", cfg: auth.Config{Issuer: "i", Audience: "a", JWKSURL: "http://[::1"}, want: []string{"JWKSURL is not a valid URL"}},
		{name: "negative durations", cfg: auth.Config{Secret: []byte(auth.DevSecret), Leeway: -time.Second, JWKSRefresh: -time.Second},
			want: []string{"Leeway must not be negative", "JWKSRefresh must not be negative"}},
		{name: "jwks without issuer and audience", cfg: auth.Config{JWKSURL: "https://id.example.com/jwks"},
			want: []string{"Issuer is required with JWKSURL", "Audience is required with JWKSURL"}},
		{name: "jwks without audience", cfg: auth.Config{JWKSURL: "https://id.example.com/jwks", Issuer: "i"},
			want: []string{"Audience is required with JWKSURL"}},
		{name: "every problem at once", cfg: auth.Config{Secret: []byte("short"), JWKSURL: "file:///etc/jwks", Leeway: -1, Issuer: "i", Audience: "a"},
			want: []string{"Secret must be at least 32 bytes", "JWKSURL must be an absolute http or https URL", "Leeway must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, missing %q", err, w)
				}
			}
			if got := len(strings.Split(err.Error(), "\n")); got != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d: %q", got, len(tt.want), err)
			}
		})
	}
}

func TestConfigLogValueHidesSecret(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "auth", auth.Config{Secret: []byte(auth.DevSecret), Issuer: "iss"})
	if strings.Contains(buf.String(), auth.DevSecret) {
		t.Errorf("log contains the secret: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"secret_set":true`) {
		t.Errorf("log does not say a secret is set: %s", buf.String())
	}
}

func TestDevSecret(t *testing.T) {
	t.Parallel()
	if len(auth.DevSecret) < auth.MinSecretLen {
		t.Fatalf("DevSecret is %d bytes, want at least %d", len(auth.DevSecret), auth.MinSecretLen)
	}
	if err := (auth.Config{Secret: []byte(auth.DevSecret)}).Validate(); err != nil {
		t.Fatalf("DevSecret config invalid: %v", err)
	}
}
