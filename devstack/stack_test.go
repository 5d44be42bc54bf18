package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskflow/taskflow/devstack"
)

// daprBinDir returns the Dapr binaries, failing the test when they are
// missing: CI builds them first, and a skipped integration test would hide
// a broken stack.
func daprBinDir(tb testing.TB) string {
	tb.Helper()
	dir := devstack.DefaultDaprBinDir()
	for _, bin := range []string{"daprd", "placement", "scheduler"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			tb.Fatalf("Dapr %s binary not found in %s: run `make dapr` first (or set DAPR_BIN_DIR): %v", bin, dir, err)
		}
	}
	return dir
}

// buildTestApp builds testdata/testapp into a fresh bin directory.
func buildTestApp(tb testing.TB) string {
	tb.Helper()
	bin := tb.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "testapp"), "./testdata/testapp")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build testapp: %v\n%s", err, out)
	}
	return bin
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// invokeEnv asks the app, through its sidecar, for one of its env vars.
func invokeEnv(tb testing.TB, app devstack.App, key string) string {
	tb.Helper()
	status, body := get(tb, fmt.Sprintf("%s/v1.0/invoke/%s/method/env?key=%s", app.DaprURL, app.ID, key))
	if status != http.StatusOK {
		tb.Fatalf("invoke %s env %s: status %d: %s", app.ID, key, status, body)
	}
	return body
}

// stackChildren lists this test process's children that a stack starts.
func stackChildren(tb testing.TB) []string {
	tb.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...
		stat := string(data)
		open, close := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if open < 0 || close < open {
			continue
		}
		comm := stat[open+1 : close]
		fields := strings.Fields(stat[close+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		switch comm {
		case "daprd", "placement", "scheduler", "testapp", "devkafka":
			out = append(out, strings.Fields(stat)[0]+" "+comm+" "+fields[0])
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

func TestStackIntegration(t *testing.T) {
	t.Parallel()
	binDir := daprBinDir(t)
	appBin := buildTestApp(t)
	stateDir := t.TempDir()
	secret := fmt.Sprintf("secret-%d", time.Now().UnixNano())
	var console syncBuffer

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{
		Root:       "testdata/run",
		DaprBinDir: binDir,
		AppBinDir:  appBin,
		StateDir:   stateDir,
		FreePorts:  true,
		Env:        map[string]string{"DEVSTACK_TEST_SECRET": secret},
		AppEnv:     map[string]map[string]string{"echo": {"TESTAPP_FAILPOINT": "on"}},
		Replicas:   map[string]int{"echo": 2},
		Logger:     testLogger(t),
		Console:    &console,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var pids []int
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			if alive(pid) || groupAlive(pid) {
				t.Errorf("process %d (or its group) outlived Close", pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	for _, pid := range s.PIDs() {
		pids = append(pids, pid)
	}

	app := s.App("echo")
	t.Run("ports are free ones", func(t *testing.T) {
		for name, port := range map[string]int{
			"app": app.AppPort, "http": app.DaprHTTPPort, "grpc": app.DaprGRPCPort, "metrics": app.MetricsPort,
		} {
			switch port {
			case 0, 8083, 3501, 50011, 9091:
				t.Errorf("%s port %d: want a free port, not the run file's", name, port)
			}
		}
		for _, addr := range []string{s.PlacementAddress(), s.SchedulerAddress()} {
			if strings.HasSuffix(addr, ":50005") || strings.HasSuffix(addr, ":50006") || addr == "" {
				t.Errorf("control plane address %q: want a free port", addr)
			}
		}
	})

	t.Run("app and sidecar are healthy and wired", func(t *testing.T) {
		if status, body := get(t, app.URL+"/health/ready"); status != http.StatusOK {
			t.Fatalf("app ready: %d %s", status, body)
		}
		// Start waits for the sidecar's full health, not only outbound.
		if status, body := get(t, app.DaprURL+"/v1.0/healthz"); status != http.StatusNoContent {
			t.Fatalf("daprd healthz: %d %s", status, body)
		}
		for key, want := range map[string]string{
			"APP_ID":               "echo",
			"APP_PORT":             strconv.Itoa(app.AppPort),
			"APP_PROTOCOL":         "http",
			"DAPR_HTTP_PORT":       strconv.Itoa(app.DaprHTTPPort),
			"DAPR_GRPC_PORT":       strconv.Itoa(app.DaprGRPCPort),
			"DAPR_METRICS_PORT":    strconv.Itoa(app.MetricsPort),
			"TESTAPP_GREETING":     "app", // app env over common env
			"TESTAPP_COMMON_ONLY":  "yes",
			"TESTAPP_FAILPOINT":    "on", // Options.AppEnv
			"DEVSTACK_TEST_SECRET": secret,
		} {
			if got := invokeEnv(t, app, key); got != want {
				t.Errorf("app env %s = %q, want %q", key, got, want)
			}
		}
		// The sidecar's own environment holds Options.Env.
		status, body := get(t, app.DaprURL+"/v1.0/secrets/envsecrets/DEVSTACK_TEST_SECRET")
		if status != http.StatusOK || !strings.Contains(body, secret) {
			t.Errorf("sidecar env: secret read gave %d %s, want %s", status, body, secret)
		}
	})

	t.Run("sidecar reaches scheduler and placement", func(t *testing.T) {
		var md struct {
			Scheduler struct {
				ConnectedAddresses []string `json:"connected_addresses"`
			} `json:"scheduler"`
			Placement string `json:"placement"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body := get(t, app.DaprURL+"/v1.0/metadata")
			if err := json.Unmarshal([]byte(body), &md); err != nil {
				t.Fatalf("metadata: %v: %s", err, body)
			}
			if len(md.Scheduler.ConnectedAddresses) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sidecar not connected to the scheduler: %s", body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got := md.Scheduler.ConnectedAddresses; len(got) != 1 || got[0] != s.SchedulerAddress() {
			t.Errorf("scheduler connected addresses %v, want [%s]", got, s.SchedulerAddress())
		}
	})

	t.Run("replicas have their own ports, env and logs", func(t *testing.T) {
		insts := s.Instances("echo")
		if len(insts) != 2 || insts[0] != app || insts[1].ID != "echo" || insts[1].Instance != 1 {
			t.Fatalf("Instances(echo) = %+v", insts)
		}
		seen := map[int]bool{}
		for _, in := range insts {
			for _, p := range []int{in.AppPort, in.DaprHTTPPort, in.DaprGRPCPort, in.DaprInternalGRPCPort, in.MetricsPort} {
				if p == 0 || seen[p] {
					t.Errorf("instance %d: port %d is zero or shared: %+v", in.Instance, p, insts)
				}
				seen[p] = true
			}
			if status, body := get(t, in.URL+"/health/ready"); status != http.StatusOK {
				t.Errorf("instance %d ready: %d %s", in.Instance, status, body)
			}
			if status, body := get(t, in.DaprURL+"/v1.0/healthz"); status != http.StatusNoContent {
				t.Errorf("instance %d daprd healthz: %d %s", in.Instance, status, body)
			}
			// Invoking its own app ID, a sidecar calls its own app.
			for key, want := range map[string]string{
				"TASKFLOW_INSTANCE": strconv.Itoa(in.Instance),
				"APP_ID":            "echo",
				"APP_PORT":          strconv.Itoa(in.AppPort),
				"DAPR_HTTP_PORT":    strconv.Itoa(in.DaprHTTPPort),
				"TESTAPP_FAILPOINT": "on",
				"TESTAPP_GREETING":  "app",
			} {
				if got := invokeEnv(t, in, key); got != want {
					t.Errorf("instance %d env %s = %q, want %q", in.Instance, key, got, want)
				}
			}
		}
		log, err := os.ReadFile(s.LogPath("echo-1"))
		if err != nil || !strings.Contains(string(log), "testapp: listening on 127.0.0.1:"+strconv.Itoa(insts[1].AppPort)) {
			t.Errorf("echo-1 log (%v) lacks instance 1's start:\n%s", err, log)
		}
		log, err = os.ReadFile(s.LogPath("echo-1-daprd"))
		if err != nil || !strings.Contains(string(log), "--dapr-http-port "+strconv.Itoa(insts[1].DaprHTTPPort)) {
			t.Errorf("echo-1-daprd log (%v) lacks instance 1's daprd start:\n%s", err, log)
		}
		if err := s.KillInstance("echo", 2, false); err == nil || !strings.Contains(err.Error(), "no instance 2") {
			t.Errorf("KillInstance(echo, 2) = %v, want no such instance", err)
		}
	})

	t.Run("kill and restart a replica", func(t *testing.T) {
		before := s.PIDs()
		if err := s.KillInstance("echo", 1, true); err != nil {
			t.Fatalf("KillInstance: %v", err)
		}
		if alive(before["echo-1"]) || alive(before["echo-1-daprd"]) {
			t.Fatalf("instance 1 alive after KillInstance: %v", before)
		}
		mid := s.PIDs()
		if _, ok := mid["echo-1"]; ok || mid["echo"] != before["echo"] || mid["echo-daprd"] != before["echo-daprd"] {
			t.Fatalf("PIDs after KillInstance(1) = %v, before %v: want only instance 1 gone", mid, before)
		}
		if status, _ := get(t, app.DaprURL+"/v1.0/healthz"); status != http.StatusNoContent {
			t.Errorf("instance 0 unhealthy after instance 1 was killed: %d", status)
		}
		if err := s.StartInstance(ctx, "echo", 1, map[string]string{"TESTAPP_GREETING": "replica"}); err != nil {
			t.Fatalf("StartInstance: %v", err)
		}
		after := s.PIDs()
		pids = append(pids, after["echo-1"], after["echo-1-daprd"])
		if after["echo-1"] == 0 || after["echo-1"] == before["echo-1"] || after["echo-1-daprd"] == before["echo-1-daprd"] {
			t.Errorf("PIDs before %v, after %v: want a new instance 1", before, after)
		}
		in := s.Instances("echo")[1]
		if got := invokeEnv(t, in, "TESTAPP_GREETING"); got != "replica" {
			t.Errorf("instance 1 TESTAPP_GREETING = %q, want the StartInstance value", got)
		}
		if got := invokeEnv(t, app, "TESTAPP_GREETING"); got != "app" {
			t.Errorf("instance 0 TESTAPP_GREETING = %q: StartInstance(1) must not touch instance 0", got)
		}
	})

	t.Run("kill and restart the app", func(t *testing.T) {
		before := s.PIDs()
		if err := s.KillApp("echo", false); err != nil {
			t.Fatalf("KillApp: %v", err)
		}
		if alive(before["echo"]) {
			t.Fatalf("app %d still alive after KillApp", before["echo"])
		}
		if _, ok := s.PIDs()["echo"]; ok {
			t.Fatal("PIDs still lists the killed app")
		}
		if err := s.StartApp(ctx, "echo", map[string]string{"TESTAPP_GREETING": "restarted"}); err != nil {
			t.Fatalf("StartApp: %v", err)
		}
		after := s.PIDs()
		pids = append(pids, after["echo"])
		if after["echo"] == before["echo"] || after["echo-daprd"] != before["echo-daprd"] {
			t.Errorf("PIDs before %v, after %v: want a new app and the same sidecar", before, after)
		}
		if got := invokeEnv(t, app, "TESTAPP_GREETING"); got != "restarted" {
			t.Errorf("TESTAPP_GREETING after restart = %q, want the StartApp value", got)
		}
	})

	t.Run("kill and restart app and sidecar", func(t *testing.T) {
		before := s.PIDs()
		if err := s.KillApp("echo", true); err != nil {
			t.Fatalf("KillApp: %v", err)
		}
		if alive(before["echo"]) || alive(before["echo-daprd"]) {
			t.Fatalf("app or sidecar alive after KillApp: %v", before)
		}
		if err := s.StartApp(ctx, "echo", nil); err != nil {
			t.Fatalf("StartApp: %v", err)
		}
		after := s.PIDs()
		pids = append(pids, after["echo"], after["echo-daprd"])
		if after["echo-daprd"] == before["echo-daprd"] {
			t.Errorf("sidecar not restarted: %v", after)
		}
		if got := invokeEnv(t, app, "TESTAPP_GREETING"); got != "app" {
			t.Errorf("TESTAPP_GREETING = %q: StartApp's extra env must not stick", got)
		}
	})

	t.Run("graceful stop", func(t *testing.T) {
		if err := s.StopApp(ctx, "echo", false); err != nil {
			t.Fatalf("StopApp: %v", err)
		}
		log, err := os.ReadFile(s.LogPath("echo"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "testapp: shutting down") {
			t.Errorf("app log shows no graceful shutdown:\n%s", log)
		}
		if err := s.StartApp(ctx, "echo", nil); err != nil {
			t.Fatalf("StartApp: %v", err)
		}
		pids = append(pids, s.PIDs()["echo"])
	})

	t.Run("concurrent operations", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 2 {
			wg.Go(func() { errs <- s.StartApp(ctx, "echo", nil) })
			wg.Go(func() { errs <- s.KillApp("echo", false) })
			wg.Go(func() { errs <- s.StartInstance(ctx, "echo", 1, nil) })
			wg.Go(func() { _ = s.PIDs(); _ = s.App("echo"); _ = s.Instances("echo") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent operation: %v", err)
			}
		}
		if err := s.StartApp(ctx, "echo", nil); err != nil {
			t.Fatalf("StartApp: %v", err)
		}
		after := s.PIDs()
		pids = append(pids, after["echo"], after["echo-1"])
		if got := invokeEnv(t, app, "APP_ID"); got != "echo" {
			t.Errorf("after concurrent restarts APP_ID = %q", got)
		}
		if got := invokeEnv(t, s.Instances("echo")[1], "TASKFLOW_INSTANCE"); got != "1" {
			t.Errorf("after concurrent restarts instance 1 TASKFLOW_INSTANCE = %q", got)
		}
	})

	t.Run("Wait reports a crash", func(t *testing.T) {
		waitErr := make(chan error, 1)
		go func() { waitErr <- s.Wait() }()
		select {
		case err := <-waitErr:
			t.Fatalf("Wait returned early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		// Any instance counts: crash the replica.
		if err := syscall.Kill(s.PIDs()["echo-1"], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-waitErr:
			if err == nil || !strings.Contains(err.Error(), "echo-1 exited unexpectedly") ||
				!strings.Contains(err.Error(), "testapp: listening on") {
				t.Errorf("Wait = %v, want the app's exit with its log tail", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Wait did not report the crash")
		}
	})

	t.Run("Close leaves nothing behind", func(t *testing.T) {
		// A restart racing Close either finishes first or gives up.
		restarted := make(chan error, 1)
		go func() { restarted <- s.StartApp(ctx, "echo", nil) }()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-restarted; err != nil && !errors.Is(err, devstack.ErrClosed) {
			t.Errorf("StartApp racing Close = %v, want nil or ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		for _, pid := range pids {
			if alive(pid) || groupAlive(pid) {
				t.Errorf("process %d or its group outlived Close", pid)
			}
		}
		if got := s.PIDs(); len(got) != 0 {
			t.Errorf("PIDs after Close = %v", got)
		}
		if left := stackChildren(t); len(left) > 0 {
			t.Errorf("children left after Close: %v", left)
		}
		if err := s.StartApp(ctx, "echo", nil); !errors.Is(err, devstack.ErrClosed) {
			t.Errorf("StartApp after Close = %v, want ErrClosed", err)
		}
		if out := console.String(); !strings.Contains(out, "echo | testapp: listening on") || strings.Contains(out, "echo-daprd |") {
			t.Errorf("console should show app output only (daprdLogDestination is file):\n%s", out)
		}
		for _, name := range []string{"placement", "scheduler", "echo", "echo-daprd", "echo-1", "echo-1-daprd"} {
			log, err := os.ReadFile(s.LogPath(name))
			if err != nil || !strings.Contains(string(log), "===== devstack:") {
				t.Errorf("log %s: %v, want a start marker", name, err)
			}
		}
	})
}

// TestStartReportsAppFailure runs before the parallel tests, alone, so that
// it can tell that a failed Start leaves no child process behind.
func TestStartReportsAppFailure(t *testing.T) {
	binDir := daprBinDir(t)
	appBin := buildTestApp(t)
	tests := []struct {
		name  string
		env   map[string]string
		wants []string
	}{
		{"app exits", map[string]string{"TESTAPP_EXIT": "3"},
			[]string{"echo exited before", "exit status 3", "testapp: exiting as asked"}},
		{"app never ready", map[string]string{"TESTAPP_NOT_READY": "1"},
			[]string{"echo: http://127.0.0.1:", "/health/ready not ready after", "status 503, want 200", "testapp: listening on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			s, err := devstack.Start(ctx, devstack.Options{
				Root:         "testdata/run",
				DaprBinDir:   binDir,
				AppBinDir:    appBin,
				StateDir:     t.TempDir(),
				FreePorts:    true,
				AppEnv:       map[string]map[string]string{"echo": tt.env},
				Logger:       testLogger(t),
				ReadyTimeout: 3 * time.Second,
			})
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded with a failing app")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start error lacks %q:\n%v", want, err)
				}
			}
			if left := stackChildren(t); len(left) > 0 {
				t.Errorf("failed Start left processes behind: %v", left)
			}
		})
	}
}

// A free port picked for a sidecar can be taken by another process before
// daprd binds it: the sidecar is started again on new ports, and the stack
// comes up. (Not parallel: the hook is package-wide.)
func TestStartRepicksASidecarPortTakenMeanwhile(t *testing.T) {
	binDir := daprBinDir(t)
	appBin := buildTestApp(t)
	var taken []int
	devstack.SetBeforeSidecarStart(func(appID string, grpcPort int) {
		if appID != "echo" || len(taken) > 0 {
			return
		}
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", grpcPort)) // daprd listens on all addresses
		if err != nil {
			t.Errorf("take port %d: %v", grpcPort, err)
			return
		}
		t.Cleanup(func() { ln.Close() })
		taken = append(taken, grpcPort)
	})
	t.Cleanup(func() { devstack.SetBeforeSidecarStart(nil) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{
		Root: "testdata/run", DaprBinDir: binDir, AppBinDir: appBin, StateDir: t.TempDir(),
		FreePorts: true, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Start with a sidecar port taken: %v", err)
	}
	defer s.Close()
	if len(taken) != 1 {
		t.Fatalf("the hook took %d ports, want 1", len(taken))
	}
	if got := s.App("echo").DaprGRPCPort; got == taken[0] {
		t.Fatalf("the sidecar still has the taken port %d", got)
	}
	resp, err := http.Get(s.App("echo").DaprURL + "/v1.0/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sidecar healthz on its new port: %d", resp.StatusCode)
	}
}
