// Package platform is the start-up plumbing every TaskFlow app shares:
// typed configuration from the environment, the logger, the database (with
// migrations), the Dapr client, health checks and HTTP serving.
package platform

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads typed settings from the environment and remembers every bad
// value, so that an app reports all of its configuration problems at once
// (Err) and names each variable. Not safe for concurrent use.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// NewEnv reads the process environment.
func NewEnv() *Env { return &Env{lookup: os.LookupEnv} }

// NewEnvFrom reads from a map (tests).
func NewEnvFrom(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the variable or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Int returns the variable as an integer in [min, max], or def.
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want an integer between %d and %d", name, v, min, max))
		return def
	}
	return n
}

// Duration returns the variable as a Go duration (e.g. 250ms, 5m) of at
// least min, or def.
func (e *Env) Duration(name string, def, min time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a duration of at least %v, like 500ms or 5m", name, v, min))
		return def
	}
	return d
}

// Bool returns the variable as a boolean, or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", name, v))
		return def
	}
	return b
}

// Port returns the variable as a TCP port, or def.
func (e *Env) Port(name string, def int) int { return e.Int(name, def, 1, 65535) }

// Fail records a problem found while interpreting the settings.
func (e *Env) Fail(err error) { e.errs = append(e.errs, err) }

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}
