package platform

import (
	"context"
	"crypto/subtle"
	"net/http"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The header (and gRPC metadata key) carrying Dapr's API tokens: the app
// token on calls from the sidecar to the app, the API token on calls from
// the app to the sidecar.
const daprTokenHeader = "dapr-api-token"

// AppToken is APP_API_TOKEN: the secret the sidecar presents on every call
// to this app (Dapr's dapr.io/app-token-secret). Empty in local runs.
func AppToken() string { return os.Getenv("APP_API_TOKEN") }

func tokenMatches(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// RequireAppToken lets through only requests carrying the app token, so
// that the routes only the sidecar calls (subscriptions, event deliveries)
// refuse anyone else who reaches the app's port. With no token configured
// it changes nothing.
func RequireAppToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokenMatches(r.Header.Get(daprTokenHeader), token) {
			http.Error(w, "only the Dapr sidecar may call this route", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// appHealthCheck is the gRPC app channel's health probe: daprd 1.18 calls it
// without the app token, and it reveals nothing (as /health/* over HTTP).
const appHealthCheck = "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck"

// appTopics is asked at start, also without the token; the actors app
// subscribes to nothing and says so.
const appTopics = "/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions"

// AppTokenInterceptor is RequireAppToken for a gRPC app channel; the
// health probe stays open.
func AppTokenInterceptor(token string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if token != "" && (info == nil || (info.FullMethod != appHealthCheck && info.FullMethod != appTopics)) {
			md, _ := metadata.FromIncomingContext(ctx)
			if got := md.Get(daprTokenHeader); len(got) != 1 || !tokenMatches(got[0], token) {
				return nil, status.Error(codes.Unauthenticated, "only the Dapr sidecar may call this app")
			}
		}
		return handler(ctx, req)
	}
}

// SidecarAuth adds DAPR_API_TOKEN (Dapr's dapr.io/api-token-secret) to a
// request for the app's sidecar; the Go SDK's client does the same.
func SidecarAuth(req *http.Request) {
	if tok := os.Getenv("DAPR_API_TOKEN"); tok != "" {
		req.Header.Set(daprTokenHeader, tok)
	}
}
