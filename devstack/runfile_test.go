package devstack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path → content) under a fresh directory; a path
// ending in "/" is a directory.
func writeTree(tb testing.TB, files map[string]string) string {
	tb.Helper()
	root := tb.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func TestRepoRunFile(t *testing.T) {
	t.Parallel()
	rf, err := LoadRunFile("../dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("..")
	type ports struct{ app, http, grpc, metrics int }
	want := []struct {
		id       string
		ports    ports
		protocol string
	}{
		// The actors app takes actor calls over its stream to the sidecar,
		// which needs a gRPC app channel.
		{"actors", ports{8083, 3501, 50011, 9191}, "grpc"},
		{"api", ports{8080, 3500, 50001, 9190}, "http"},
		{"notifier", ports{8081, 3502, 50021, 9192}, "http"},
		{"auditor", ports{8082, 3503, 50031, 9193}, "http"},
	}
	if len(rf.Apps) != len(want) {
		t.Fatalf("got %d apps, want %d", len(rf.Apps), len(want))
	}
	for i, w := range want {
		a := rf.Apps[i]
		got := ports{a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort}
		if a.AppID != w.id || got != w.ports {
			t.Errorf("app %d = %s %+v, want %s %+v", i, a.AppID, got, w.id, w.ports)
		}
		if a.AppDirPath != root {
			t.Errorf("%s appDirPath %s, want %s", a.AppID, a.AppDirPath, root)
		}
		if want := []string{"./bin/" + w.id}; !reflect.DeepEqual(a.Command, want) {
			t.Errorf("%s command %v, want %v", a.AppID, a.Command, want)
		}
		// Common settings reach every app.
		if !reflect.DeepEqual(a.ResourcesPaths, []string{filepath.Join(root, "components")}) ||
			a.ConfigFilePath != filepath.Join(root, "components", "config.yaml") ||
			a.PlacementHostAddress != "localhost:50005" || a.SchedulerHostAddress != "localhost:50006" ||
			!a.EnableAppHealthCheck || a.AppHealthCheckPath != "/health/ready" || a.AppHealthProbeInterval != 5 ||
			a.AppProtocol != w.protocol || a.LogLevel != "info" || a.DaprdLogDestination != LogToFile {
			t.Errorf("%s lacks common settings: %+v", a.AppID, a)
		}
	}
}

func TestParseRunFilePrecedence(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{
		"run/common-res/":           "",
		"run/app-res/":              "",
		"run/svc/":                  "",
		"run/svc2/.dapr/resources/": "",
		"run/cfg/common.yaml":       "kind: Configuration",
		"run/cfg/app.yaml":          "kind: Configuration",
	})
	path := filepath.Join(root, "run", "dapr.yaml")
	rf, err := ParseRunFile(path, []byte(`
version: 1
common:
  resourcesPaths: [./common-res]
  configFilePath: cfg/common.yaml
  appProtocol: grpc
  logLevel: debug
  enableAppHealthCheck: true
  appHealthProbeInterval: 5
  appMaxConcurrency: 10
  placementHostAddress: localhost:50005
  env: {A: common, B: common}
apps:
  - appID: one
    appDirPath: ./svc
    appPort: 7000
    resourcesPath: app-res
    configFilePath: ./cfg/app.yaml
    enableAppHealthCheck: false
    appHealthProbeInterval: 0
    appMaxConcurrency: -1
    placementHostAddress: ""
    logLevel: warn
    env: {B: app, C: app}
    command: [./bin/one, --flag]
  - appDirPath: svc2
    appSSL: true
    appProtocol: http
    daprdLogDestination: console
    appLogDestination: file
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "run")
	one := AppConfig{
		AppID: "one", AppDirPath: filepath.Join(dir, "svc"), Command: []string{"./bin/one", "--flag"},
		AppPort:              7000,
		ResourcesPaths:       []string{filepath.Join(dir, "app-res")},
		ConfigFilePath:       filepath.Join(dir, "cfg", "app.yaml"),
		AppProtocol:          "grpc",
		LogLevel:             "warn",
		AppMaxConcurrency:    -1,
		Env:                  map[string]string{"A": "common", "B": "app", "C": "app"},
		DaprdLogDestination:  LogToFile,
		AppLogDestination:    LogToFileAndConsole,
		EnableAppHealthCheck: false, // explicit false beats common's true
	}
	two := AppConfig{
		AppID: "svc2", AppDirPath: filepath.Join(dir, "svc2"), // appID defaults to the directory name
		ResourcesPaths:         []string{filepath.Join(dir, "common-res")},
		ConfigFilePath:         filepath.Join(dir, "cfg", "common.yaml"),
		AppProtocol:            "https", // appSSL upgrades http
		LogLevel:               "debug",
		EnableAppHealthCheck:   true,
		AppHealthProbeInterval: 5,
		AppMaxConcurrency:      10,
		PlacementHostAddress:   "localhost:50005",
		Env:                    map[string]string{"A": "common", "B": "common"},
		DaprdLogDestination:    LogToConsole,
		AppLogDestination:      LogToFile,
	}
	for i, want := range []AppConfig{one, two} {
		if got := rf.Apps[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("app %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestParseRunFileDefaults(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{
		"app/.dapr/resources/":  "",
		"app/.dapr/config.yaml": "kind: Configuration",
	})
	rf, err := ParseRunFile(filepath.Join(root, "dapr.yaml"), []byte("version: 1\napps:\n  - appDirPath: app\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := rf.Apps[0]
	if a.AppID != "app" || a.AppProtocol != "http" || a.AppMaxConcurrency != -1 ||
		a.DaprdLogDestination != LogToFile || a.AppLogDestination != LogToFileAndConsole ||
		!reflect.DeepEqual(a.ResourcesPaths, []string{filepath.Join(root, "app", ".dapr", "resources")}) ||
		a.ConfigFilePath != filepath.Join(root, "app", ".dapr", "config.yaml") {
		t.Errorf("defaults: %+v", a)
	}
}

func TestParseRunFileErrors(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"svc/": "", "file": ""})
	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{"unknown version", "version: 2\napps: [{appDirPath: svc}]", []string{"version 2 is not supported"}},
		{"missing version", "apps: [{appDirPath: svc}]", []string{"version 0 is not supported"}},
		{"unknown key", "version: 1\napps: [{appDirPath: svc, appPrt: 1}]", []string{"field appPrt not found"}},
		{"app key in common", "version: 1\ncommon: {appPort: 1}\napps: [{appDirPath: svc}]", []string{"field appPort not found"}},
		{"no apps", "version: 1", []string{"no apps"}},
		{"missing appDirPath", "version: 1\napps: [{appID: x}]", []string{"apps[0] (x): appDirPath is required"}},
		{"missing dir", "version: 1\napps: [{appDirPath: nope}]", []string{"appDirPath: stat"}},
		{"dir is a file", "version: 1\napps: [{appDirPath: file}]", []string{"is not a directory"}},
		{"missing resources", "version: 1\ncommon: {resourcesPaths: [res]}\napps: [{appDirPath: svc}]", []string{"resources path: stat"}},
		{"missing config", "version: 1\napps: [{appDirPath: svc, configFilePath: c.yaml}]", []string{"configFilePath: stat"}},
		{
			"duplicates", "version: 1\napps: [{appID: a, appDirPath: svc, appPort: 1}, {appID: a, appDirPath: svc, daprHTTPPort: 1}]",
			[]string{"duplicate appID", "daprHTTPPort 1 already used as a appPort"},
		},
		{"remote placement", "version: 1\napps: [{appDirPath: svc, placementHostAddress: 'dapr:50005'}]", []string{"only starts local instances"}},
		{"placement list", "version: 1\napps: [{appDirPath: svc, schedulerHostAddress: 'localhost:1,localhost:2'}]", []string{"not a list"}},
		{"bad log destination", "version: 1\napps: [{appDirPath: svc, appLogDestination: stdout}]", []string{`appLogDestination "stdout"`}},
		{"unix socket", "version: 1\napps: [{appDirPath: svc, unixDomainSocket: /tmp}]", []string{"unixDomainSocket is not supported"}},
		{"port out of range", "version: 1\napps: [{appDirPath: svc, appPort: 70000}]", []string{"appPort 70000 out of range"}},
		{
			"every problem at once", "version: 3\napps: [{appDirPath: nope}, {appID: b}]",
			[]string{"version 3", "apps[0] (nope): appDirPath", "apps[1] (b): appDirPath is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRunFile(filepath.Join(root, "dapr.yaml"), []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestLocalPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		want    int
		wantErr bool
	}{
		{"localhost:50005", 50005, false},
		{"127.0.0.1:1", 1, false},
		{"[::1]:2", 2, false},
		{"localhost", 42, false},
		{":7", 7, false},
		{"example.com:50005", 0, true},
		{"localhost:x", 0, true},
		{"localhost:0", 0, true},
	}
	for _, tt := range tests {
		got, err := localPort(tt.addr, 42)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("localPort(%q) = %d, %v; want %d, error %v", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseRunFile(f *testing.F) {
	data, err := os.ReadFile("../dapr.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("version: 1\napps: [{appDirPath: .}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := ParseRunFile("../dapr.yaml", data)
		if err == nil && (rf.Version != 1 || len(rf.Apps) == 0) {
			t.Fatalf("accepted %q as %+v", data, rf)
		}
	})
}

// TestDaprBuildMatchesMakefile: the binaries make dapr builds are where
// devstack looks for them.
func TestDaprBuildMatchesMakefile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var version, build string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "DAPR_VERSION := "); ok {
			version = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "DAPR_BUILD := "); ok {
			build = strings.ReplaceAll(strings.TrimSpace(v), "$(DAPR_VERSION)", version)
		}
	}
	if version != DaprVersion || build != DaprBuild {
		t.Fatalf("Makefile builds Dapr %q as %q; devstack expects %q as %q", version, build, DaprVersion, DaprBuild)
	}
}
