package platform

import (
	"errors"

	"github.com/taskflow/taskflow/auth"
)

// DevAuthFlag is the variable that allows the public development secret
// (auth.DevSecret): dapr.yaml sets it for `make run` and the tests, and
// nothing else may. Without it an app whose JWT_SECRET and JWKS_URL are
// unset, or whose JWT_SECRET is the development secret, refuses to start:
// anyone can sign tokens with a secret published in the repository.
const DevAuthFlag = "TASKFLOW_DEV_AUTH"

// AuthConfig reads JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, JWKS_URL,
// JWT_LEEWAY and JWT_ROLES_CLAIM. It fails closed: the development secret
// applies only with TASKFLOW_DEV_AUTH=true, and only when neither
// JWT_SECRET nor JWKS_URL is set (so a deployment that configures JWKS
// never also accepts tokens signed with it).
func AuthConfig(env *Env) auth.Config {
	dev := env.Bool(DevAuthFlag, false)
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
	switch {
	case len(c.Secret) == 0 && c.JWKSURL == "" && dev:
		c.Secret = []byte(auth.DevSecret)
	case len(c.Secret) == 0 && c.JWKSURL == "":
		env.Fail(errors.New("set JWT_SECRET or JWKS_URL (" + DevAuthFlag + "=true allows the public development secret, for local runs only)"))
		return c
	case string(c.Secret) == auth.DevSecret && !dev:
		env.Fail(errors.New("JWT_SECRET is the public development secret: set a secret of your own (" + DevAuthFlag + "=true allows it, for local runs only)"))
		return c
	}
	if err := c.Validate(); err != nil {
		env.Fail(err)
	}
	return c
}

// DevToolAuthConfig is AuthConfig for the developer's CLI (`taskflow
// token`, `taskflow ops`): signing with the public development secret
// grants nothing unless a server accepts it, so it needs no flag.
func DevToolAuthConfig(env *Env) auth.Config {
	withFlag := &Env{lookup: func(k string) (string, bool) {
		if k == DevAuthFlag {
			return "true", true
		}
		return env.lookup(k)
	}}
	c := AuthConfig(withFlag)
	env.errs = append(env.errs, withFlag.errs...)
	return c
}
