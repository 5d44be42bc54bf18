package actors

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dapr/go-sdk/service/common"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"github.com/go-chi/chi/v5"
)

// RuntimeConfig is the actor runtime configuration the app reports to its
// sidecar at GET /dapr/config.
type RuntimeConfig struct {
	IdleTimeout         time.Duration // deactivate an actor after this long unused
	DrainOngoingTimeout time.Duration // on rebalance, wait this long for calls in flight
}

// NewService builds the actors app's HTTP service on addr: the Dapr actor
// protocol (served by the Go SDK), plus the routes in extra (health,
// metrics). Deps are shared by every TaskActor. The SDK keeps its actor
// registry in a process-wide variable: call NewService once per process.
func NewService(addr string, deps *Deps, rc RuntimeConfig, extra map[string]http.Handler) common.Service {
	mux := chi.NewRouter()
	// The SDK's own /dapr/config handler cannot set timeouts; answer it here.
	cfg, _ := json.Marshal(map[string]any{
		"entities":                []string{TaskActorType},
		"actorIdleTimeout":        rc.IdleTimeout.String(),
		"drainOngoingCallTimeout": rc.DrainOngoingTimeout.String(),
		"drainRebalancedActors":   true,
		"reentrancy":              map[string]any{"enabled": false},
	})
	mux.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/dapr/config" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(cfg)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	for path, h := range extra {
		mux.Handle(path, h)
	}
	s := daprhttp.NewServiceWithMux(addr, mux)
	s.RegisterActorImplFactoryContext(Factory(deps))
	return s
}
