package platform

import (
	"github.com/taskflow/taskflow/auth"
)

// AuthConfig reads JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, JWKS_URL and
// JWT_LEEWAY. The development secret (auth.DevSecret) applies only when
// neither JWT_SECRET nor JWKS_URL is set, so a deployment that configures
// JWKS never also accepts tokens signed with the public development secret.
func AuthConfig(env *Env) auth.Config {
	c := auth.Config{
		Secret:   []byte(env.String("JWT_SECRET", "")),
		Issuer:   env.String("JWT_ISSUER", ""),
		Audience: env.String("JWT_AUDIENCE", ""),
		JWKSURL:  env.String("JWKS_URL", ""),
		Leeway:   env.Duration("JWT_LEEWAY", 0, 0),
		// Where a token lists its roles: "roles" by default, a dotted path
		// such as "realm_access.roles" for Keycloak.
		RolesClaim: env.String("JWT_ROLES_CLAIM", auth.DefaultRolesClaim),
	}
	if len(c.Secret) == 0 && c.JWKSURL == "" {
		c.Secret = []byte(auth.DevSecret)
	}
	if err := c.Validate(); err != nil {
		env.Fail(err)
	}
	return c
}
