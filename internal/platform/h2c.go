package platform

import (
	"net/http"
	"strings"

	"google.golang.org/grpc"
)

// WithGRPC serves gRPC requests (HTTP/2 with a gRPC content type) with g
// and every other request with h, so that one port carries both the
// sidecar's gRPC app channel and plain HTTP (health probes, metrics). The
// http.Server must accept unencrypted HTTP/2 (see EnableH2C).
func WithGRPC(g *grpc.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// EnableH2C lets srv accept HTTP/2 without TLS (prior knowledge, as gRPC
// clients speak it) besides HTTP/1.1.
func EnableH2C(srv *http.Server) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
}
