// Command testapp is the app devstack's integration test runs beside a real
// daprd. It listens on APP_PORT and serves:
//
//	/health/ready  200, or 503 while TESTAPP_NOT_READY is set
//	/health/live   200
//	/env?key=K     the value of environment variable K
//
// With TESTAPP_EXIT=code it prints "testapp: exiting as asked" and exits at
// once with that code. It shuts down gracefully on SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if code := os.Getenv("TESTAPP_EXIT"); code != "" {
		fmt.Fprintln(os.Stderr, "testapp: exiting as asked")
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("TESTAPP_NOT_READY") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "live")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("key")))
	})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("APP_PORT")))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, "testapp: listening on", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "testapp: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
