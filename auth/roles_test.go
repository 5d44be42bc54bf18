package auth_test

import (
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/taskflow/taskflow/auth"
)

func TestVerifyReadsRoles(t *testing.T) {
	now := time.Now()
	cfg := auth.Config{Secret: []byte(testSecret), Issuer: testIssuer, Audience: testAudience}
	plain := newVerifier(t, cfg)
	cfg.RolesClaim = "realm_access.roles"
	nested := newVerifier(t, cfg)

	for _, tc := range []struct {
		name  string
		v     *auth.Verifier
		claim func(jwt.MapClaims)
		want  []string
	}{
		{"array", plain, set("roles", []any{"taskflow-admin", "viewer"}), []string{"taskflow-admin", "viewer"}},
		{"single string", plain, set("roles", "taskflow-admin"), []string{"taskflow-admin"}},
		{"non-strings skipped", plain, set("roles", []any{1, "viewer", nil}), []string{"viewer"}},
		{"wrong shape grants nothing", plain, set("roles", map[string]any{"admin": true}), nil},
		{"absent", plain, del("roles"), nil},
		{"nested path", nested, set("realm_access", map[string]any{"roles": []any{"taskflow-admin"}}), []string{"taskflow-admin"}},
		{"nested path, top-level claim ignored", nested, set("roles", []any{"taskflow-admin"}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(now, tc.claim))
			got := checkVerify(t, tc.v, raw, "")
			if !slices.Equal(got.Roles, tc.want) {
				t.Fatalf("Roles = %q, want %q", got.Roles, tc.want)
			}
			if got.HasRole("taskflow-admin") != slices.Contains(tc.want, "taskflow-admin") {
				t.Fatalf("HasRole disagrees with Roles %q", got.Roles)
			}
		})
	}
}

func TestMintWritesRoles(t *testing.T) {
	raw, err := auth.Mint([]byte(testSecret), "ops", auth.MintOptions{Issuer: testIssuer, Audience: testAudience, Roles: []string{"taskflow-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, auth.Config{Secret: []byte(testSecret), Issuer: testIssuer, Audience: testAudience})
	if got := checkVerify(t, v, raw, ""); !got.HasRole("taskflow-admin") || got.HasRole("") {
		t.Fatalf("minted roles = %q", got.Roles)
	}
}
