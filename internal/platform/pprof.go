package platform

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// ServePprof serves Go's profiling endpoints on addr (PPROF_ADDR, e.g.
// 127.0.0.1:6060) until ctx is done. An empty addr serves nothing: the
// profiler is opt-in and must never share the public port.
func ServePprof(ctx context.Context, addr string, logger *slog.Logger) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.ErrorContext(ctx, "pprof listener failed", "addr", addr, "error", err)
		return
	}
	logger.InfoContext(ctx, "pprof listening", "addr", ln.Addr().String())
	go func() {
		_ = ServeHTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln, time.Second)
	}()
}
