package platform

import (
	"strings"
	"testing"

	"github.com/taskflow/taskflow/auth"
)

// TestAuthFailsClosed: an app given no secret, or the public development
// secret, refuses to start unless the development flag is on.
func TestAuthFailsClosed(t *testing.T) {
	const own = "a-secret-of-our-own-that-is-long-enough-0123"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		secret  string // the secret in use when valid
		refused string // part of the error when refused
	}{
		{"nothing set", map[string]string{}, "", "set JWT_SECRET or JWKS_URL"},
		{"the dev secret explicitly", map[string]string{"JWT_SECRET": auth.DevSecret}, "", "public development secret"},
		{"dev flag false", map[string]string{"TASKFLOW_DEV_AUTH": "false"}, "", "set JWT_SECRET or JWKS_URL"},
		{"dev flag on", map[string]string{"TASKFLOW_DEV_AUTH": "true"}, auth.DevSecret, ""},
		{"dev flag and dev secret", map[string]string{"TASKFLOW_DEV_AUTH": "true", "JWT_SECRET": auth.DevSecret}, auth.DevSecret, ""},
		{"own secret", map[string]string{"JWT_SECRET": own}, own, ""},
		{"jwks without issuer", map[string]string{"JWKS_URL": "https://id.example.com/jwks"}, "", "Issuer is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := NewEnvFrom(tc.env)
			c := AuthConfig(env)
			err := env.Err()
			switch {
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.refused)
			case tc.refused == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.refused == "" && string(c.Secret) != tc.secret:
				t.Fatalf("secret %q, want %q", c.Secret, tc.secret)
			}
		})
	}
	// The developer's CLI signs with the public secret without the flag.
	env := NewEnvFrom(map[string]string{})
	if c := DevToolAuthConfig(env); env.Err() != nil || string(c.Secret) != auth.DevSecret {
		t.Fatalf("DevToolAuthConfig: %q %v", c.Secret, env.Err())
	}
}
