package devstack

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDaprdArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		app  AppConfig
		port sidecarPorts
		pl   string
		sc   string
		want []string
	}{
		{
			name: "full",
			app: AppConfig{
				AppID: "actors", AppProtocol: "http", ResourcesPaths: []string{"/r/a", "/r/b"}, ConfigFilePath: "/r/config.yaml",
				LogLevel: "info", AppMaxConcurrency: 4, MaxBodySize: "8Mi", ReadBufferSize: "16Ki",
				EnableAppHealthCheck: true, AppHealthCheckPath: "/health/ready", AppHealthProbeInterval: 5,
				AppHealthProbeTimeout: 500, AppHealthThreshold: 3, EnableAPILogging: true,
				EnableProfiling: true, AppChannelAddress: "127.0.0.1", APIListenAddresses: "127.0.0.1",
			},
			port: sidecarPorts{App: 8083, HTTP: 3501, GRPC: 50011, Internal: 50012, Metrics: 9091, Profile: 7777},
			pl:   "127.0.0.1:50005",
			sc:   "127.0.0.1:50006",
			want: []string{
				"--app-id", "actors", "--mode", "standalone",
				"--app-port", "8083", "--app-protocol", "http", "--app-channel-address", "127.0.0.1",
				"--dapr-http-port", "3501", "--dapr-grpc-port", "50011", "--dapr-internal-grpc-port", "50012",
				"--metrics-port", "9091", "--dapr-listen-addresses", "127.0.0.1",
				"--resources-path", "/r/a", "--resources-path", "/r/b", "--config", "/r/config.yaml",
				"--placement-host-address", "127.0.0.1:50005", "--scheduler-host-address", "127.0.0.1:50006",
				"--log-level", "info", "--app-max-concurrency", "4", "--max-body-size", "8Mi", "--read-buffer-size", "16Ki",
				"--enable-app-health-check", "--app-health-check-path", "/health/ready",
				"--app-health-probe-interval", "5", "--app-health-probe-timeout", "500", "--app-health-threshold", "3",
				"--enable-api-logging", "--enable-profiling", "--profile-port", "7777",
			},
		},
		{
			name: "minimal: no app port, no control plane, unlimited concurrency",
			app:  AppConfig{AppID: "x", AppProtocol: "http", AppMaxConcurrency: -1},
			port: sidecarPorts{HTTP: 1, GRPC: 2, Internal: 3, Metrics: 4},
			want: []string{
				"--app-id", "x", "--mode", "standalone", "--app-protocol", "http",
				"--dapr-http-port", "1", "--dapr-grpc-port", "2", "--dapr-internal-grpc-port", "3", "--metrics-port", "4",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := daprdArgs(tt.app, tt.port, tt.pl, tt.sc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("daprdArgs:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// flagValue returns the value following flag in args.
func flagValue(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

func TestControlPlaneArgs(t *testing.T) {
	t.Parallel()
	pl := placementArgs(placementPorts{GRPC: 1, Raft: 2, Healthz: 3, Metrics: 4}, "")
	for flag, want := range map[string]string{
		"--port": "1", "--initial-cluster": "dapr-placement-0=127.0.0.1:2", "--id": "dapr-placement-0",
		"--healthz-port": "3", "--metrics-port": "4", "--mode": "standalone", "--listen-address": "127.0.0.1",
	} {
		if got := flagValue(pl, flag); got != want {
			t.Errorf("placement %s = %q, want %q (args %q)", flag, got, want, pl)
		}
	}
	sc := schedulerArgs(schedulerPorts{GRPC: 1, EtcdClient: 2, EtcdPeer: 3, Healthz: 4, Metrics: 5}, "/data", "debug")
	for flag, want := range map[string]string{
		"--port": "1", "--etcd-client-port": "2", "--etcd-initial-cluster": "dapr-scheduler-server-0=http://127.0.0.1:3",
		"--id": "dapr-scheduler-server-0", "--healthz-port": "4", "--metrics-port": "5", "--etcd-data-dir": "/data",
		"--mode": "standalone", "--override-broadcast-host-port": "127.0.0.1:1", "--log-level": "debug",
		"--etcd-client-listen-address": "127.0.0.1",
	} {
		if got := flagValue(sc, flag); got != want {
			t.Errorf("scheduler %s = %q, want %q (args %q)", flag, got, want, sc)
		}
	}
}

func TestAppEnvAndMerge(t *testing.T) {
	t.Parallel()
	app := AppConfig{AppID: "api", AppProtocol: "http", Env: map[string]string{"LOG_LEVEL": "debug", "APP_PORT": "1"}}
	env := appEnv(app, sidecarPorts{App: 8080, HTTP: 3500, GRPC: 50001, Metrics: 9090})
	want := map[string]string{
		"APP_ID": "api", "APP_PROTOCOL": "http", "APP_PORT": "1", // the run file's env wins, as with the CLI
		"DAPR_HTTP_PORT": "3500", "DAPR_GRPC_PORT": "50001", "DAPR_METRICS_PORT": "9090", "LOG_LEVEL": "debug",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("appEnv = %v, want %v", env, want)
	}
	if _, ok := appEnv(AppConfig{AppID: "w"}, sidecarPorts{})["APP_PORT"]; ok {
		t.Error("APP_PORT set for an app without a port")
	}

	got := mergeEnv([]string{"PATH=/bin", "A=base", "B=base"},
		map[string]string{"A": "one"}, nil, map[string]string{"A": "two", "C": "two"})
	if want := []string{"A=two", "B=base", "C=two", "PATH=/bin"}; !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestLookupEnv(t *testing.T) {
	t.Setenv("DEVSTACK_TEST_LOOKUP", "process")
	if got := lookupEnv(map[string]string{"DEVSTACK_TEST_LOOKUP": "extra"}, "DEVSTACK_TEST_LOOKUP"); got != "extra" {
		t.Errorf("got %q, want extra", got)
	}
	if got := lookupEnv(map[string]string{"DEVSTACK_TEST_LOOKUP": ""}, "DEVSTACK_TEST_LOOKUP"); got != "process" {
		t.Errorf("got %q, want process", got)
	}
}

// fakeBins writes executable stubs named names into a fresh directory.
func fakeBins(tb testing.TB, names ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func planRepo(tb testing.TB, free bool, replicas map[string]int) *Stack {
	tb.Helper()
	rf, err := LoadRunFile("../dapr.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Stack{
		opts:    Options{AppBinDir: fakeBins(tb, "actors", "api", "notifier", "auditor"), FreePorts: free, Replicas: replicas},
		runFile: rf,
		apps:    map[string][]*instance{},
	}
	if err := s.plan(); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestPlanKeepsRunFilePorts(t *testing.T) {
	t.Parallel()
	s := planRepo(t, false, nil)
	if a := s.App("actors"); a.AppPort != 8083 || a.DaprHTTPPort != 3501 || a.DaprGRPCPort != 50011 || a.MetricsPort != 9191 ||
		a.DaprInternalGRPCPort == 0 || a.URL != "http://127.0.0.1:8083" || a.DaprURL != "http://127.0.0.1:3501" {
		t.Errorf("actors = %+v", a)
	}
	if s.PlacementAddress() != "127.0.0.1:50005" || s.SchedulerAddress() != "127.0.0.1:50006" {
		t.Errorf("control plane at %s and %s", s.PlacementAddress(), s.SchedulerAddress())
	}
	// Ports that dapr.yaml leaves open must not be the defaults that collide
	// between two stacks (healthz 8080 is the api's port!).
	for _, p := range []int{s.placement.Healthz, s.placement.Metrics, s.placement.Raft, s.scheduler.Healthz,
		s.scheduler.Metrics, s.scheduler.EtcdClient, s.scheduler.EtcdPeer} {
		switch p {
		case 0, 8080, 9090, 8201, 2379, 2380:
			t.Errorf("control plane port %d: want a free one", p)
		}
	}
	if got := s.Apps(); len(got) != 4 || got[0].ID != "actors" || got[3].ID != "auditor" {
		t.Errorf("Apps() = %+v", got)
	}
	if got := s.Instances("api"); len(got) != 1 || got[0] != s.App("api") {
		t.Errorf("Instances(api) = %+v, want only App(api)", got)
	}
	if got := s.Instances("nope"); got != nil {
		t.Errorf("Instances(nope) = %+v, want nil", got)
	}
}

func TestPlanReplicas(t *testing.T) {
	t.Parallel()
	for _, free := range []bool{false, true} {
		t.Run(fmt.Sprintf("FreePorts=%v", free), func(t *testing.T) {
			t.Parallel()
			s := planRepo(t, free, map[string]int{"actors": 2, "notifier": 3})
			runFile := map[int]bool{50005: true, 50006: true}
			for _, a := range s.runFile.Apps {
				for _, p := range []int{a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort} {
					runFile[p] = true
				}
			}
			seen := map[int]string{}
			for _, id := range []string{"actors", "api", "notifier", "auditor"} {
				insts := s.Instances(id)
				want := map[string]int{"actors": 2, "notifier": 3}[id]
				if want == 0 {
					want = 1
				}
				if len(insts) != want {
					t.Fatalf("%s: %d instances, want %d", id, len(insts), want)
				}
				if insts[0] != s.App(id) {
					t.Errorf("%s: App() = %+v, want instance 0 %+v", id, s.App(id), insts[0])
				}
				cfg, _ := s.runFile.App(id)
				for i, a := range insts {
					if a.ID != id || a.Instance != i {
						t.Errorf("Instances(%s)[%d] = %+v", id, i, a)
					}
					ports := map[string]int{"app": a.AppPort, "http": a.DaprHTTPPort, "grpc": a.DaprGRPCPort,
						"internal": a.DaprInternalGRPCPort, "metrics": a.MetricsPort}
					for what, p := range ports {
						what = fmt.Sprintf("%s[%d] %s", id, i, what)
						if prev, ok := seen[p]; ok || p <= 0 {
							t.Errorf("%s port %d: also used by %q", what, p, prev)
						}
						seen[p] = what
						// Only instance 0 without FreePorts may use the run file's ports.
						if (free || i > 0) && runFile[p] {
							t.Errorf("%s port %d is a run-file port", what, p)
						}
					}
					if !free && i == 0 && (a.AppPort != cfg.AppPort || a.DaprHTTPPort != cfg.DaprHTTPPort ||
						a.DaprGRPCPort != cfg.DaprGRPCPort || a.MetricsPort != cfg.MetricsPort) {
						t.Errorf("%s[0] = %+v: want the run file's ports", id, a)
					}
					if a.URL != fmt.Sprintf("http://127.0.0.1:%d", a.AppPort) || a.DaprURL != fmt.Sprintf("http://127.0.0.1:%d", a.DaprHTTPPort) {
						t.Errorf("%s[%d] URLs %s %s", id, i, a.URL, a.DaprURL)
					}
				}
			}
			names := []string{s.apps["notifier"][0].name(), s.apps["notifier"][0].sidecarName(),
				s.apps["notifier"][2].name(), s.apps["notifier"][2].sidecarName()}
			if want := []string{"notifier", "notifier-daprd", "notifier-2", "notifier-2-daprd"}; !reflect.DeepEqual(names, want) {
				t.Errorf("log names %q, want %q", names, want)
			}
		})
	}
}

func TestPlanFreePortsReplacesEveryPort(t *testing.T) {
	t.Parallel()
	s := planRepo(t, true, nil)
	fixed := map[int]bool{50005: true, 50006: true}
	for _, a := range s.runFile.Apps {
		for _, p := range []int{a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort} {
			fixed[p] = true
		}
	}
	seen := map[int]string{}
	check := func(what string, p int) {
		if p <= 0 || fixed[p] {
			t.Errorf("%s port %d: want a free port", what, p)
		}
		if prev, ok := seen[p]; ok {
			t.Errorf("%s port %d also used by %s", what, p, prev)
		}
		seen[p] = what
	}
	for _, a := range s.Apps() {
		check(a.ID+" app", a.AppPort)
		check(a.ID+" http", a.DaprHTTPPort)
		check(a.ID+" grpc", a.DaprGRPCPort)
		check(a.ID+" internal", a.DaprInternalGRPCPort)
		check(a.ID+" metrics", a.MetricsPort)
	}
	pl, sc := *s.placement, *s.scheduler
	for what, p := range map[string]int{
		"placement": pl.GRPC, "raft": pl.Raft, "placement healthz": pl.Healthz, "placement metrics": pl.Metrics,
		"scheduler": sc.GRPC, "etcd client": sc.EtcdClient, "etcd peer": sc.EtcdPeer,
		"scheduler healthz": sc.Healthz, "scheduler metrics": sc.Metrics,
	} {
		check(what, p)
	}
}

func TestPlanErrors(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"svc/": "", "svc/notexec": "x"})
	tests := []struct {
		name, yaml, want string
	}{
		{"missing command", "version: 1\napps: [{appID: a, appDirPath: svc, command: [./bin/a]}]", `app a: command "./bin/a"`},
		{"not executable", "version: 1\napps: [{appID: a, appDirPath: svc, command: [./notexec]}]", "is not an executable file"},
		{"not in PATH", "version: 1\napps: [{appID: a, appDirPath: svc, command: [no-such-devstack-cmd]}]", "executable file not found"},
		{"reserved name", "version: 1\napps: [{appID: placement, appDirPath: svc}]", "clashes with a log name"},
		// With Replicas {a: 2} (as in every case), instance 1 of a logs as "a-1".
		{"replica name", "version: 1\napps: [{appID: a-1, appDirPath: svc}, {appID: a, appDirPath: svc}]", "app a: its name clashes"},
		{
			"two placements",
			"version: 1\napps: [{appID: a, appDirPath: svc, placementHostAddress: 'localhost:1'}, {appID: b, appDirPath: svc, placementHostAddress: 'localhost:2'}]",
			"differs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rf, err := ParseRunFile(filepath.Join(root, "dapr.yaml"), []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			s := &Stack{runFile: rf, apps: map[string][]*instance{}, opts: Options{Replicas: map[string]int{"a": 2}}}
			if err := s.plan(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("plan() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPlanReportsEveryReplicasError(t *testing.T) {
	t.Parallel()
	rf, err := ParseRunFile(filepath.Join(t.TempDir(), "dapr.yaml"),
		[]byte("version: 1\napps: [{appID: a, appDirPath: .}, {appID: b, appDirPath: .}, {appID: c, appDirPath: .}]"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{runFile: rf, apps: map[string][]*instance{},
		opts: Options{Replicas: map[string]int{"a": 0, "b": -1, "c": 2, "nope": 2}}}
	err = s.plan()
	for _, want := range []string{"app a: 0 instances", "app b: -1 instances", `no app "nope"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("plan() = %v, want an error containing %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "app c") {
		t.Errorf("plan() = %v: c's 2 replicas are fine", err)
	}
}

func TestAppCommand(t *testing.T) {
	t.Parallel()
	bins := fakeBins(t, "api")
	root := writeTree(t, map[string]string{"svc/bin/": ""})
	if err := os.WriteFile(filepath.Join(root, "svc", "bin", "api"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	app := AppConfig{AppID: "api", AppDirPath: filepath.Join(root, "svc")}
	tests := []struct {
		name    string
		binDir  string
		command []string
		want    []string
	}{
		{"./bin moves to AppBinDir", bins, []string{"./bin/api", "-v"}, []string{filepath.Join(bins, "api"), "-v"}},
		{"bin moves to AppBinDir", bins, []string{"bin/api"}, []string{filepath.Join(bins, "api")}},
		{"relative to appDirPath", "", []string{"./bin/api"}, []string{filepath.Join(root, "svc", "bin", "api")}},
		{"PATH lookup", "", []string{"sh", "-c", "true"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Stack{opts: Options{AppBinDir: tt.binDir}}
			app := app
			app.Command = tt.command
			got, err := s.appCommand(app)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if !filepath.IsAbs(got[0]) || !reflect.DeepEqual(got[1:], tt.command[1:]) {
					t.Errorf("got %q", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConsolePrefixesLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	c := &consoleWriter{w: &buf}
	a, b := c.prefixed("api"), c.prefixed("actors-daprd")
	for _, w := range []struct {
		w io.Writer
		s string
	}{{a, "hel"}, {b, "one\ntw"}, {a, "lo\nworld\n"}, {b, "o\n"}} {
		if _, err := w.w.Write([]byte(w.s)); err != nil {
			t.Fatal(err)
		}
	}
	want := "actors-daprd | one\napi | hello\napi | world\nactors-daprd | two\n"
	if buf.String() != want {
		t.Errorf("console:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestLogTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.log")
	var lines []string
	for i := range 100 {
		lines = append(lines, strings.Repeat("x", i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logTail(path, 3)
	want := "--- last 3 lines of " + path + " ---\n" + strings.Join(lines[97:], "\n") + "\n---"
	if got != want {
		t.Errorf("logTail:\n%s\nwant:\n%s", got, want)
	}
	if got := logTail(filepath.Join(t.TempDir(), "none"), 3); !strings.Contains(got, "no log") {
		t.Errorf("missing log: %s", got)
	}
}
