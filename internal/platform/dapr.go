package platform

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
)

// DaprClient connects to the app's sidecar gRPC port, retrying until ctx is
// done: in Kubernetes the app may start before its sidecar.
func DaprClient(ctx context.Context, grpcPort int) (dapr.Client, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(grpcPort))
	var lastErr error
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := dapr.NewClientWithAddressContext(attempt, addr)
		cancel()
		if err == nil {
			return c, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the Dapr sidecar at %s: %w", addr, lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// SidecarCheck returns a readiness check of the sidecar's outbound side
// (its API is up and its components are loaded); it does not depend on this
// app being ready, so it cannot deadlock with daprd's app health probe.
func SidecarCheck(httpPort int) Check {
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/v1.0/healthz/outbound"
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("dapr sidecar: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("dapr sidecar: outbound health %d", resp.StatusCode)
		}
		return nil
	}
}
