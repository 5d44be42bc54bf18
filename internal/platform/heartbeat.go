package platform

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/taskflow/taskflow/postgres"
)

// HeartbeatInterval is how often an app reports itself to the ops view.
const HeartbeatInterval = 10 * time.Second

// forgetAfter is how long an instance that stopped reporting is kept: long
// enough for an operator to see that it died.
const forgetAfter = 10 * time.Minute

// Heartbeat records this process in app_instances every HeartbeatInterval
// with what its sidecar's metadata API (GET /v1.0/metadata) reports: the
// runtime version, components, subscriptions, actor types with their
// active counts, and its placement and scheduler connections. The ops view
// reads those rows, so it sees every replica of every app, wherever it
// runs. active, when set, counts the app's own actor activations (Dapr
// 1.18's metadata lists actor types without counts). The row is removed
// when ctx is done.
func Heartbeat(ctx context.Context, ops *postgres.Ops, app string, daprHTTPPort int, active func() map[string]int, logger *slog.Logger) {
	host, _ := os.Hostname()
	inst := postgres.AppInstance{
		AppID:      app,
		InstanceID: cmp.Or(host, "host") + "-" + randomSuffix(),
		Host:       cmp.Or(host, "unknown"),
		AppVersion: Version(),
		StartedAt:  time.Now().UTC(),
	}
	client := &http.Client{Timeout: 3 * time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(daprHTTPPort) + "/v1.0/metadata"
	logger = logger.With("component", "heartbeat")
	failing := false
	// Quick beats at first: the sidecar loads its subscriptions only once
	// the app reports healthy.
	every := time.Second
	for {
		inst.Sidecar, inst.SidecarError = nil, nil
		if doc, err := sidecarMetadata(ctx, client, url); err != nil {
			msg := err.Error()
			inst.SidecarError = &msg
		} else {
			inst.Sidecar = doc
		}
		if active != nil {
			inst.ActiveActors = active()
		}
		if err := ops.Heartbeat(ctx, inst); err != nil {
			if !failing && ctx.Err() == nil {
				logger.WarnContext(ctx, "cannot record this instance for the ops view", "error", err)
			}
			failing = true
		} else {
			failing = false
		}
		select {
		case <-ctx.Done():
			bye, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = ops.Forget(bye, inst.AppID, inst.InstanceID, time.Now().Add(-forgetAfter))
			cancel()
			return
		case <-time.After(every):
		}
		every = min(2*every, HeartbeatInterval)
	}
}

func sidecarMetadata(ctx context.Context, client *http.Client, url string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	SidecarAuth(req)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dapr sidecar metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("dapr sidecar metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !json.Valid(body) {
		return nil, fmt.Errorf("dapr sidecar metadata: status %d", resp.StatusCode)
	}
	return body, nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Version is this binary's version: its module version and VCS revision
// as the Go toolchain recorded them ("devel" when built without either).
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "-dirty"
		}
	}
	return v
}
