package platform

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestRequireAppToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name, configured, sent string
		want                   int
	}{
		{"no token configured: open", "", "", http.StatusNoContent},
		{"right token", "s3cret", "s3cret", http.StatusNoContent},
		{"no token sent", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "s3cre", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/events/task-events", nil)
			if tc.sent != "" {
				req.Header.Set("dapr-api-token", tc.sent)
			}
			rec := httptest.NewRecorder()
			RequireAppToken(tc.configured, ok).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestAppTokenInterceptor(t *testing.T) {
	handler := func(context.Context, any) (any, error) { return "ok", nil }
	call := func(configured string, md metadata.MD) error {
		ctx := metadata.NewIncomingContext(context.Background(), md)
		_, err := AppTokenInterceptor(configured)(ctx, nil, nil, handler)
		return err
	}
	if err := call("", metadata.MD{}); err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := call("s3cret", metadata.Pairs("dapr-api-token", "s3cret")); err != nil {
		t.Fatalf("right token: %v", err)
	}
	for _, md := range []metadata.MD{{}, metadata.Pairs("dapr-api-token", "nope"), metadata.Pairs("dapr-api-token", "s3cret", "dapr-api-token", "s3cret")} {
		if err := call("s3cret", md); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("metadata %v: err %v, want Unauthenticated", md, err)
		}
	}
	// daprd's app health probe carries no token: a refused probe marks the
	// app unhealthy and daprd stops sending it actor calls.
	ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{})
	info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck"}
	if _, err := AppTokenInterceptor("s3cret")(ctx, nil, info, handler); err != nil {
		t.Fatalf("health probe without a token: %v", err)
	}
	info.FullMethod = "/dapr.proto.runtime.v1.AppCallback/OnInvoke"
	if _, err := AppTokenInterceptor("s3cret")(ctx, nil, info, handler); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("OnInvoke without a token: %v", err)
	}
}
