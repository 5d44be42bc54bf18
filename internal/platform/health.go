package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Checks are named readiness checks.
type Checks map[string]Check

// DatabaseCheck pings PostgreSQL.
func DatabaseCheck(pool *pgxpool.Pool) Check {
	return func(ctx context.Context) error { return pool.Ping(ctx) }
}

// HealthReport is the body of /health/ready.
type HealthReport struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks"` // name -> "ok" or the problem
}

// Run runs every check concurrently within 2 seconds.
func (c Checks) Run(ctx context.Context) (HealthReport, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rep := HealthReport{Status: "ok", Checks: make(map[string]string, len(c))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		wg.Go(func() {
			result := "ok"
			if err := c[name](ctx); err != nil {
				result = err.Error()
			}
			mu.Lock()
			rep.Checks[name] = result
			if result != "ok" {
				rep.Status = "unavailable"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return rep, rep.Status == "ok"
}

// LiveHandler answers /health/live: the process is up.
func LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
}

// ReadyHandler answers /health/ready: 200 when every check passes, else 503.
// The checks run on a context of their own, not the request's: behind
// Fiber's net/http adaptor the request context is fasthttp's pooled
// RequestCtx, which must not be referenced after the handler returns.
func ReadyHandler(c Checks) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rep, ok := c.Run(context.Background())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
}
