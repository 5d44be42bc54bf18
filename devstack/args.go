package devstack

import (
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// loopback is where devstack binds everything it controls.
const loopback = "127.0.0.1"

// sidecarPorts are the ports of one app and its daprd, after FreePorts.
type sidecarPorts struct {
	App, HTTP, GRPC, Internal, Metrics, Profile int
}

// placementPorts are the ports of the placement service.
type placementPorts struct {
	GRPC, Raft, Healthz, Metrics int
}

func (p placementPorts) addr() string { return net.JoinHostPort(loopback, strconv.Itoa(p.GRPC)) }

// schedulerPorts are the ports of the scheduler and its embedded etcd.
type schedulerPorts struct {
	GRPC, EtcdClient, EtcdPeer, Healthz, Metrics int
}

func (p schedulerPorts) addr() string { return net.JoinHostPort(loopback, strconv.Itoa(p.GRPC)) }

// placementArgs runs placement as a single standalone raft node with an
// in-memory log, every port on loopback.
func placementArgs(p placementPorts, logLevel string) []string {
	const id = "dapr-placement-0"
	args := []string{
		"--mode", "standalone",
		"--id", id,
		"--initial-cluster", id + "=" + net.JoinHostPort(loopback, strconv.Itoa(p.Raft)),
		"--port", strconv.Itoa(p.GRPC),
		"--listen-address", loopback,
		"--healthz-port", strconv.Itoa(p.Healthz),
		"--healthz-listen-address", loopback,
		"--metrics-port", strconv.Itoa(p.Metrics),
		"--metrics-listen-address", loopback,
	}
	if logLevel != "" {
		args = append(args, "--log-level", logLevel)
	}
	return args
}

// schedulerArgs runs the scheduler as one standalone instance with embedded
// etcd in dataDir. Standalone mode never contacts Kubernetes; without
// --override-broadcast-host-port the scheduler would tell sidecars to reach
// it on the machine's outward address.
func schedulerArgs(p schedulerPorts, dataDir, logLevel string) []string {
	const id = "dapr-scheduler-server-0"
	args := []string{
		"--mode", "standalone",
		"--id", id,
		"--port", strconv.Itoa(p.GRPC),
		"--listen-address", loopback,
		"--override-broadcast-host-port", p.addr(),
		"--healthz-port", strconv.Itoa(p.Healthz),
		"--healthz-listen-address", loopback,
		"--metrics-port", strconv.Itoa(p.Metrics),
		"--metrics-listen-address", loopback,
		"--etcd-data-dir", dataDir,
		"--etcd-client-port", strconv.Itoa(p.EtcdClient),
		"--etcd-client-listen-address", loopback,
		"--etcd-initial-cluster", id + "=http://" + net.JoinHostPort(loopback, strconv.Itoa(p.EtcdPeer)),
	}
	if logLevel != "" {
		args = append(args, "--log-level", logLevel)
	}
	return args
}

// daprdArgs builds daprd's command line the way `dapr run` does. Addresses of
// placement and scheduler are the stack's (empty: not used by this app).
func daprdArgs(app AppConfig, ports sidecarPorts, placementAddr, schedulerAddr string) []string {
	args := []string{"--app-id", app.AppID, "--mode", "standalone"}
	addInt := func(flag string, v int) {
		if v > 0 {
			args = append(args, flag, strconv.Itoa(v))
		}
	}
	addStr := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	addBool := func(flag string, v bool) {
		if v {
			args = append(args, flag)
		}
	}
	addInt("--app-port", ports.App)
	addStr("--app-protocol", app.AppProtocol)
	addStr("--app-channel-address", app.AppChannelAddress)
	addInt("--dapr-http-port", ports.HTTP)
	addInt("--dapr-grpc-port", ports.GRPC)
	addInt("--dapr-internal-grpc-port", ports.Internal)
	addInt("--metrics-port", ports.Metrics)
	addStr("--dapr-listen-addresses", app.APIListenAddresses)
	for _, p := range app.ResourcesPaths {
		args = append(args, "--resources-path", p)
	}
	addStr("--config", app.ConfigFilePath)
	addStr("--placement-host-address", placementAddr)
	addStr("--scheduler-host-address", schedulerAddr)
	addStr("--log-level", app.LogLevel)
	if app.AppMaxConcurrency != -1 {
		args = append(args, "--app-max-concurrency", strconv.Itoa(app.AppMaxConcurrency))
	}
	addStr("--max-body-size", app.MaxBodySize)
	addStr("--read-buffer-size", app.ReadBufferSize)
	addBool("--enable-app-health-check", app.EnableAppHealthCheck)
	addStr("--app-health-check-path", app.AppHealthCheckPath)
	addInt("--app-health-probe-interval", app.AppHealthProbeInterval)
	addInt("--app-health-probe-timeout", app.AppHealthProbeTimeout)
	addInt("--app-health-threshold", app.AppHealthThreshold)
	addBool("--enable-api-logging", app.EnableAPILogging)
	addBool("--enable-profiling", app.EnableProfiling)
	if app.EnableProfiling {
		addInt("--profile-port", ports.Profile)
	}
	return args
}

// appEnv is what `dapr run` adds to an app's environment: APP_ID, APP_PORT,
// APP_PROTOCOL, APP_CHANNEL_ADDRESS, DAPR_HTTP_PORT, DAPR_GRPC_PORT and
// DAPR_METRICS_PORT, then the run file's env (common, then app).
func appEnv(app AppConfig, ports sidecarPorts) map[string]string {
	env := map[string]string{
		"APP_ID":       app.AppID,
		"APP_PROTOCOL": app.AppProtocol,
	}
	setPort := func(key string, v int) {
		if v > 0 {
			env[key] = strconv.Itoa(v)
		}
	}
	setPort("APP_PORT", ports.App)
	setPort("DAPR_HTTP_PORT", ports.HTTP)
	setPort("DAPR_GRPC_PORT", ports.GRPC)
	setPort("DAPR_METRICS_PORT", ports.Metrics)
	if app.AppChannelAddress != "" {
		env["APP_CHANNEL_ADDRESS"] = app.AppChannelAddress
	}
	maps.Copy(env, app.Env)
	return env
}

// mergeEnv returns base with each layer applied in turn (later wins), sorted.
func mergeEnv(base []string, layers ...map[string]string) []string {
	m := make(map[string]string, len(base))
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for _, layer := range layers {
		maps.Copy(m, layer)
	}
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// lookupEnv returns key's value in extra, or else in the process environment.
func lookupEnv(extra map[string]string, key string) string {
	if v := extra[key]; v != "" {
		return v
	}
	return os.Getenv(key)
}
