// Package devstack runs the TaskFlow local stack the way the Dapr CLI's
// `dapr run -f dapr.yaml` would, without the CLI and without Docker:
// optionally a development Kafka broker (cmd/devkafka), then Dapr's placement
// and scheduler services, then for every app of the run file its daprd
// sidecar and the app itself. `make run` and the end-to-end tests use it.
//
// Every process runs in its own process group and is killed when the process
// that started it dies, so an interrupted test leaves nothing behind. Output
// goes to StateDir/logs/<name>.log, where name is "kafka", "placement",
// "scheduler", the app ID, or the app ID followed by "-daprd".
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrClosed is returned by the methods of a Stack that Close has stopped.
var ErrClosed = errors.New("devstack: stack closed")

// Defaults of Options.
const (
	DefaultReadyTimeout = 90 * time.Second
	DefaultStopGrace    = 10 * time.Second
	DaprVersion         = "1.18.0"
)

// Options configures Start. Only Root is required.
type Options struct {
	Root       string // repo root: holds the run file and components/
	RunFile    string // default Root/dapr.yaml
	DaprBinDir string // holds daprd, placement, scheduler; default DefaultDaprBinDir()
	// AppBinDir, if set, replaces the directory of app commands written
	// "./bin/X" or "bin/X": they run AppBinDir/X (tests build into a temp
	// dir). It is also where devkafka is looked for (else Root/bin).
	AppBinDir string
	// StateDir holds logs/ and the scheduler's etcd data; default Root/.run.
	StateDir string
	// FreePorts replaces every port (apps, sidecars, placement, scheduler,
	// etcd, healthz and metrics, kafka) with a free one, so that a test stack
	// runs beside a `make run` stack. Ports the run file does not fix are
	// always free ones.
	FreePorts bool
	// Env is extra environment for apps and sidecars, over os.Environ() and
	// the run file's env (DATABASE_URL, KAFKA_BROKERS, JWT_SECRET, ...).
	Env map[string]string
	// AppEnv is extra environment per app ID, over Env (e.g. failpoints).
	AppEnv map[string]map[string]string
	// Kafka starts devkafka first, unless KAFKA_BROKERS is set in Env or in
	// the process environment, and gives everyone KAFKA_BROKERS.
	Kafka bool
	// Logger receives devstack's own progress; nil discards it.
	Logger *slog.Logger
	// Console, if set, also receives app output (and daprd output when the
	// run file's daprdLogDestination includes the console), each line
	// prefixed with the process name. Log files are written regardless.
	Console io.Writer
	// ReadyTimeout bounds each readiness wait; default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopGrace is how long a process may take to exit after SIGTERM before
	// it gets SIGKILL; default DefaultStopGrace.
	StopGrace time.Duration
}

// DefaultDaprBinDir is $DAPR_BIN_DIR, or else the per-user cache that
// `make dapr` builds into: ${XDG_CACHE_HOME:-~/.cache}/taskflow/dapr-1.18.0.
func DefaultDaprBinDir() string {
	if dir := os.Getenv("DAPR_BIN_DIR"); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(".cache", "taskflow", "dapr-"+DaprVersion)
	}
	return filepath.Join(cache, "taskflow", "dapr-"+DaprVersion)
}

func (o *Options) setDefaults() error {
	var errs []error
	if o.Root == "" {
		errs = append(errs, errors.New("Root is required"))
	} else if abs, err := filepath.Abs(o.Root); err != nil {
		errs = append(errs, fmt.Errorf("Root: %w", err))
	} else {
		o.Root = abs
	}
	if o.RunFile == "" {
		o.RunFile = filepath.Join(o.Root, "dapr.yaml")
	}
	if o.DaprBinDir == "" {
		o.DaprBinDir = DefaultDaprBinDir()
	}
	for _, bin := range []string{"daprd", "placement", "scheduler"} {
		if _, err := os.Stat(filepath.Join(o.DaprBinDir, bin)); err != nil {
			errs = append(errs, fmt.Errorf("Dapr %s binary missing in %s (run `make dapr`, or set DAPR_BIN_DIR): %w", bin, o.DaprBinDir, err))
		}
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.Root, ".run")
	}
	if abs, err := filepath.Abs(o.StateDir); err == nil {
		o.StateDir = abs
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	return errors.Join(errs...)
}

// App describes one running app of a Stack.
type App struct {
	ID                   string
	AppPort              int // 0 when the app has no port
	DaprHTTPPort         int
	DaprGRPCPort         int
	DaprInternalGRPCPort int
	MetricsPort          int    // daprd's metrics
	URL                  string // http://127.0.0.1:AppPort, empty without a port
	DaprURL              string // http://127.0.0.1:DaprHTTPPort
}

// Stack is a running local stack. Its methods are safe for concurrent use;
// operations on one app (StartApp, StopApp, KillApp) run one at a time, and
// Close interrupts any of them that is waiting for health. After Close, the
// methods that start or stop processes return ErrClosed.
type Stack struct {
	opts         Options
	logger       *slog.Logger
	runFile      *RunFile
	env          map[string]string // Options.Env plus KAFKA_BROKERS if devkafka runs
	kafkaBrokers string
	placement    *placementPorts // nil: no app uses actors
	scheduler    *schedulerPorts // nil: no app uses the scheduler
	apps         map[string]*appState
	order        []string // app IDs in run-file order
	console      *consoleWriter
	http         *http.Client

	life     context.Context // done once Close starts
	cancel   context.CancelFunc
	failed   chan struct{} // closed at the first unexpected exit
	closedCh chan struct{} // closed once Close has stopped everything

	mu        sync.Mutex // guards the fields below and appState.app/.sidecar
	closing   bool
	infra     []*process // kafka, placement, scheduler as started
	failErr   error
	closeOnce sync.Once
}

type appState struct {
	cfg   AppConfig
	ports sidecarPorts
	op    sync.Mutex // serialises StartApp, StopApp and KillApp of this app

	app, sidecar *process // guarded by Stack.mu; nil when never started
}

// Start starts the stack described by opts: devkafka (if asked), placement
// and scheduler (if any app uses them), then in run-file order each app's
// daprd and, once the sidecar's /v1.0/healthz/outbound answers 204, the app.
// It returns when every app's /health/ready answers 200 and then its daprd's
// /v1.0/healthz answers 204 (fully connected). ctx bounds startup
// only: stop the stack with Close. On failure everything started is stopped
// and the error names the process and quotes the tail of its log.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	rf, err := LoadRunFile(opts.RunFile)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s := &Stack{
		opts:     opts,
		logger:   opts.Logger.With("component", "devstack"),
		runFile:  rf,
		env:      maps.Clone(opts.Env),
		apps:     map[string]*appState{},
		failed:   make(chan struct{}),
		closedCh: make(chan struct{}),
		http: &http.Client{
			Timeout:   2 * time.Second,
			Transport: &http.Transport{DisableKeepAlives: true},
		},
	}
	if s.env == nil {
		s.env = map[string]string{}
	}
	if opts.Console != nil {
		s.console = &consoleWriter{w: opts.Console}
	}
	s.life, s.cancel = context.WithCancel(context.Background())

	if err := s.plan(); err != nil {
		s.cancel()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := s.start(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.logger.InfoContext(ctx, "stack ready", "apps", s.order, "state_dir", opts.StateDir)
	return s, nil
}

// plan assigns every port and checks app commands before anything starts.
func (s *Stack) plan() error {
	pool := newPortPool()
	free := s.opts.FreePorts
	if !free {
		for _, a := range s.runFile.Apps {
			pool.reserve(a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.DaprInternalGRPCPort, a.MetricsPort, a.ProfilePort)
		}
	}
	var errs []error
	pick := func(fixed int) int {
		if fixed > 0 && !free {
			return fixed
		}
		p, err := pool.next()
		if err != nil {
			errs = append(errs, err)
		}
		return p
	}

	// One placement and one scheduler serve every app: their ports come
	// from the run file (all apps must agree) or default to the CLI's.
	placementPort, usePlacement, err := sharedPort(s.runFile.Apps, "placementHostAddress", 50005,
		func(a AppConfig) string { return a.PlacementHostAddress })
	errs = append(errs, err)
	schedulerPort, useScheduler, err := sharedPort(s.runFile.Apps, "schedulerHostAddress", 50006,
		func(a AppConfig) string { return a.SchedulerHostAddress })
	errs = append(errs, err)
	if !free {
		pool.reserve(placementPort, schedulerPort)
	}
	if usePlacement {
		s.placement = &placementPorts{GRPC: pick(placementPort), Raft: pick(0), Healthz: pick(0), Metrics: pick(0)}
	}
	if useScheduler {
		s.scheduler = &schedulerPorts{GRPC: pick(schedulerPort), EtcdClient: pick(0), EtcdPeer: pick(0), Healthz: pick(0), Metrics: pick(0)}
	}

	reserved := map[string]bool{"kafka": true, "placement": true, "scheduler": true}
	for _, a := range s.runFile.Apps {
		if reserved[a.AppID] || reserved[a.AppID+"-daprd"] {
			errs = append(errs, fmt.Errorf("app %s: its name clashes with a log name devstack uses", a.AppID))
		}
		reserved[a.AppID], reserved[a.AppID+"-daprd"] = true, true
		ports := sidecarPorts{
			HTTP:     pick(a.DaprHTTPPort),
			GRPC:     pick(a.DaprGRPCPort),
			Internal: pick(a.DaprInternalGRPCPort),
			Metrics:  pick(a.MetricsPort),
		}
		if a.AppPort > 0 {
			ports.App = pick(a.AppPort)
		}
		if a.EnableProfiling {
			ports.Profile = pick(a.ProfilePort)
		}
		if len(a.Command) > 0 {
			if _, err := s.appCommand(a); err != nil {
				errs = append(errs, err)
			}
		}
		s.apps[a.AppID] = &appState{cfg: a, ports: ports}
		s.order = append(s.order, a.AppID)
	}
	return errors.Join(errs...)
}

// sharedPort finds the single port that every app naming an address agrees
// on; use is false when no app names one.
func sharedPort(apps []AppConfig, key string, def int, addr func(AppConfig) string) (port int, use bool, err error) {
	for _, a := range apps {
		if addr(a) == "" {
			continue
		}
		p, err := localPort(addr(a), def)
		if err != nil {
			return 0, false, fmt.Errorf("app %s: %s: %w", a.AppID, key, err)
		}
		if use && p != port {
			return 0, false, fmt.Errorf("app %s: %s port %d differs from %d of another app: devstack runs one instance", a.AppID, key, p, port)
		}
		port, use = p, true
	}
	return port, use, nil
}

func (s *Stack) start(ctx context.Context) error {
	if err := s.startKafka(ctx); err != nil {
		return err
	}
	if s.placement != nil {
		p, err := s.spawnInfra(procSpec{
			name: "placement",
			path: filepath.Join(s.opts.DaprBinDir, "placement"),
			args: placementArgs(*s.placement, ""),
		})
		if err != nil {
			return err
		}
		if err := s.waitHTTP(ctx, p, healthzURL(s.placement.Healthz), http.StatusOK); err != nil {
			return err
		}
	}
	if s.scheduler != nil {
		dataDir := filepath.Join(s.opts.StateDir, "scheduler")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("scheduler data dir: %w", err)
		}
		p, err := s.spawnInfra(procSpec{
			name: "scheduler",
			path: filepath.Join(s.opts.DaprBinDir, "scheduler"),
			args: schedulerArgs(*s.scheduler, dataDir, ""),
		})
		if err != nil {
			return err
		}
		if err := s.waitHTTP(ctx, p, healthzURL(s.scheduler.Healthz), http.StatusOK); err != nil {
			return err
		}
	}

	// Sidecar first, then its app, app by app in file order; the apps then
	// come up together.
	var started []*appState
	for _, id := range s.order {
		a := s.apps[id]
		if err := s.startSidecar(ctx, a); err != nil {
			return err
		}
		if len(a.cfg.Command) == 0 {
			continue // a sidecar alone: outbound readiness is all it can reach
		}
		if _, err := s.spawnApp(a, nil); err != nil {
			return err
		}
		started = append(started, a)
	}
	for _, a := range started {
		if err := s.waitApp(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) startKafka(ctx context.Context) error {
	if brokers := lookupEnv(s.opts.Env, "KAFKA_BROKERS"); brokers != "" || !s.opts.Kafka {
		s.kafkaBrokers = brokers
		return nil
	}
	binDir := s.opts.AppBinDir
	if binDir == "" {
		binDir = filepath.Join(s.opts.Root, "bin")
	}
	bin := filepath.Join(binDir, "devkafka")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("kafka: %w (build it: go build -o %s ./cmd/devkafka)", err, bin)
	}
	port := 9092
	if s.opts.FreePorts {
		var err error
		if port, err = FreePort(); err != nil {
			return err
		}
	}
	addr := net.JoinHostPort(loopback, strconv.Itoa(port))
	p, err := s.spawnInfra(procSpec{name: "kafka", path: bin, args: []string{"-addr", addr}})
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p, "kafka listening on "+addr, func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}); err != nil {
		return err
	}
	s.kafkaBrokers = addr
	s.env["KAFKA_BROKERS"] = addr
	return nil
}

// startSidecar starts a's daprd and waits for its outbound readiness.
func (s *Stack) startSidecar(ctx context.Context, a *appState) error {
	var placementAddr, schedulerAddr string
	if a.cfg.PlacementHostAddress != "" {
		placementAddr = s.placement.addr()
	}
	if a.cfg.SchedulerHostAddress != "" {
		schedulerAddr = s.scheduler.addr()
	}
	spec := procSpec{
		name: a.cfg.AppID + "-daprd",
		path: filepath.Join(s.opts.DaprBinDir, "daprd"),
		args: daprdArgs(a.cfg, a.ports, placementAddr, schedulerAddr),
		dir:  a.cfg.AppDirPath,
		env:  mergeEnv(os.Environ(), a.cfg.Env, s.env),
	}
	if a.cfg.DaprdLogDestination.toConsole() {
		spec.console = s.consoleFor(spec.name)
	}
	p, err := s.spawn(spec, func(p *process) { a.sidecar = p })
	if err != nil {
		return err
	}
	return s.waitHTTP(ctx, p, a.daprURL()+"/v1.0/healthz/outbound", http.StatusNoContent)
}

// spawnApp starts a's command; extra is environment for this start only.
func (s *Stack) spawnApp(a *appState, extra map[string]string) (*process, error) {
	cmd, err := s.appCommand(a.cfg)
	if err != nil {
		return nil, err
	}
	spec := procSpec{
		name:    a.cfg.AppID,
		path:    cmd[0],
		args:    cmd[1:],
		dir:     a.cfg.AppDirPath,
		env:     mergeEnv(os.Environ(), appEnv(a.cfg, a.ports), s.env, s.opts.AppEnv[a.cfg.AppID], extra),
		console: s.consoleFor(a.cfg.AppID),
	}
	return s.spawn(spec, func(p *process) { a.app = p })
}

// waitApp waits until a's app answers /health/ready and then until its
// daprd is fully healthy (/v1.0/healthz: app channel, placement and
// scheduler connected), so callers can use the stack at once.
func (s *Stack) waitApp(ctx context.Context, a *appState) error {
	s.mu.Lock()
	app, sidecar := a.app, a.sidecar
	s.mu.Unlock()
	if app != nil && a.ports.App != 0 {
		if err := s.waitHTTP(ctx, app, a.appURL()+"/health/ready", http.StatusOK); err != nil {
			return err
		}
	}
	return s.waitHTTP(ctx, sidecar, a.daprURL()+"/v1.0/healthz", http.StatusNoContent)
}

func (a *appState) daprURL() string {
	return "http://" + net.JoinHostPort(loopback, strconv.Itoa(a.ports.HTTP))
}

func (a *appState) appURL() string {
	if a.ports.App == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(loopback, strconv.Itoa(a.ports.App))
}

// appCommand resolves the app's command line: "./bin/X" and "bin/X" move to
// AppBinDir when set, other relative paths are relative to appDirPath, bare
// names are looked up in PATH.
func (s *Stack) appCommand(a AppConfig) ([]string, error) {
	name := a.Command[0]
	if s.opts.AppBinDir != "" {
		if rest, ok := strings.CutPrefix(filepath.ToSlash(filepath.Clean(name)), "bin/"); ok && !strings.Contains(rest, "/") {
			name = filepath.Join(s.opts.AppBinDir, rest)
		}
	}
	switch {
	case filepath.IsAbs(name):
	case strings.Contains(name, "/"):
		name = filepath.Join(a.AppDirPath, name)
	default:
		path, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("app %s: command %q: %w", a.AppID, name, err)
		}
		name = path
	}
	if fi, err := os.Stat(name); err != nil {
		return nil, fmt.Errorf("app %s: command %q: %w (run `make build`?)", a.AppID, a.Command[0], err)
	} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("app %s: command %s is not an executable file", a.AppID, name)
	}
	return append([]string{name}, a.Command[1:]...), nil
}

func (s *Stack) consoleFor(name string) io.Writer {
	if s.console == nil {
		return nil
	}
	return s.console.prefixed(name)
}

func (s *Stack) spawnInfra(spec procSpec) (*process, error) {
	spec.env = os.Environ()
	return s.spawn(spec, func(p *process) { s.infra = append(s.infra, p) })
}

// spawn starts a process and registers it with record, both under s.mu, so
// that Close either sees the process or prevents its start.
func (s *Stack) spawn(spec procSpec, record func(*process)) (*process, error) {
	spec.logPath = s.LogPath(spec.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrClosed
	}
	p, err := startProcess(spec)
	if err != nil {
		return nil, err
	}
	record(p)
	s.logger.Info("started", "process", spec.name, "pid", p.pid(), "log", spec.logPath)
	go func() {
		<-p.done
		if !p.stopping.Load() {
			s.fail(p)
		}
	}()
	return p, nil
}

// fail records the first unexpected exit for Wait.
func (s *Stack) fail(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.failErr != nil {
		return
	}
	s.failErr = p.exitError("exited unexpectedly")
	s.logger.Warn("process exited unexpectedly", "process", p.name, "status", exitStatus(p.err))
	close(s.failed)
}

func healthzURL(port int) string {
	return "http://" + net.JoinHostPort(loopback, strconv.Itoa(port)) + "/healthz"
}

// waitHTTP polls url until it answers with status.
func (s *Stack) waitHTTP(ctx context.Context, p *process, url string, status int) error {
	return s.waitReady(ctx, p, url, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := s.http.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode != status {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		return nil
	})
}

// waitReady polls check until it succeeds, p exits, ReadyTimeout passes,
// ctx is done or the stack closes.
func (s *Stack) waitReady(ctx context.Context, p *process, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	stop := context.AfterFunc(s.life, cancel)
	defer stop()

	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error // of the last check that ran to completion
	for {
		err := check(ctx)
		if err == nil {
			s.logger.DebugContext(ctx, "ready", "process", p.name, "check", what, "after", time.Since(start))
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-p.done:
			return p.exitError("exited before " + what + " was ready")
		case <-ctx.Done():
			if s.life.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("%s: %s not ready after %s: %v\n%s",
				p.name, what, time.Since(start).Round(time.Millisecond), last, logTail(p.logPath, tailLines))
		case <-tick.C:
		}
	}
}

// App returns the ports and URL of the app with the given ID; the zero App
// if there is none.
func (s *Stack) App(appID string) App {
	a, ok := s.apps[appID]
	if !ok {
		return App{}
	}
	return App{
		ID:                   appID,
		AppPort:              a.ports.App,
		DaprHTTPPort:         a.ports.HTTP,
		DaprGRPCPort:         a.ports.GRPC,
		DaprInternalGRPCPort: a.ports.Internal,
		MetricsPort:          a.ports.Metrics,
		URL:                  a.appURL(),
		DaprURL:              a.daprURL(),
	}
}

// Apps returns every app in run-file order.
func (s *Stack) Apps() []App {
	out := make([]App, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.App(id))
	}
	return out
}

// KafkaBrokers returns the KAFKA_BROKERS the stack gave its processes: the
// devkafka address, or the value found in Options.Env or the environment.
func (s *Stack) KafkaBrokers() string { return s.kafkaBrokers }

// PlacementAddress returns host:port of the placement service, or "".
func (s *Stack) PlacementAddress() string {
	if s.placement == nil {
		return ""
	}
	return s.placement.addr()
}

// SchedulerAddress returns host:port of the scheduler, or "".
func (s *Stack) SchedulerAddress() string {
	if s.scheduler == nil {
		return ""
	}
	return s.scheduler.addr()
}

// LogPath returns the log file of the named process: "kafka", "placement",
// "scheduler", an app ID, or an app ID followed by "-daprd".
func (s *Stack) LogPath(name string) string {
	return filepath.Join(s.opts.StateDir, "logs", name+".log")
}

// PIDs returns the process IDs of every process the stack currently runs,
// by log name. Tests use it to check that nothing outlives Close.
func (s *Stack) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	pids := map[string]int{}
	add := func(p *process) {
		if p != nil && !p.exited() {
			pids[p.name] = p.pid()
		}
	}
	for _, p := range s.infra {
		add(p)
	}
	for _, a := range s.apps {
		add(a.app)
		add(a.sidecar)
	}
	return pids
}

func (s *Stack) lookup(appID string) (*appState, error) {
	a, ok := s.apps[appID]
	if !ok {
		return nil, fmt.Errorf("devstack: no app %q in %s", appID, s.runFile.Path)
	}
	return a, nil
}

// procs returns the app's processes, or ErrClosed.
func (s *Stack) procs(a *appState) (app, sidecar *process, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, nil, ErrClosed
	}
	return a.app, a.sidecar, nil
}

// StopApp stops an app gracefully (SIGTERM, SIGKILL after Options.StopGrace
// or when ctx is done) and, if sidecarToo, then its daprd. Its exit does not
// count as unexpected for Wait.
func (s *Stack) StopApp(ctx context.Context, appID string, sidecarToo bool) error {
	a, err := s.lookup(appID)
	if err != nil {
		return err
	}
	a.op.Lock()
	defer a.op.Unlock()
	app, sidecar, err := s.procs(a)
	if err != nil {
		return err
	}
	if app != nil {
		app.stop(ctx, s.opts.StopGrace)
	}
	if sidecarToo && sidecar != nil {
		sidecar.stop(ctx, s.opts.StopGrace)
	}
	s.logger.InfoContext(ctx, "stopped app", "app", appID, "sidecar_too", sidecarToo)
	return nil
}

// KillApp sends SIGKILL to an app and, if sidecarToo, to its daprd, as a
// crash would, and waits until they are gone. The exit does not count as
// unexpected for Wait.
func (s *Stack) KillApp(appID string, sidecarToo bool) error {
	a, err := s.lookup(appID)
	if err != nil {
		return err
	}
	a.op.Lock()
	defer a.op.Unlock()
	app, sidecar, err := s.procs(a)
	if err != nil {
		return err
	}
	if app != nil {
		app.kill()
	}
	if sidecarToo && sidecar != nil {
		sidecar.kill()
	}
	s.logger.Info("killed app", "app", appID, "sidecar_too", sidecarToo)
	return nil
}

// StartApp (re)starts an app: a running instance is stopped gracefully
// first, its daprd is started if it is not running, and StartApp returns
// once the app is ready. extraEnv applies to this start only, over
// Options.AppEnv. The ports stay those of the first start.
func (s *Stack) StartApp(ctx context.Context, appID string, extraEnv map[string]string) error {
	a, err := s.lookup(appID)
	if err != nil {
		return err
	}
	a.op.Lock()
	defer a.op.Unlock()
	app, sidecar, err := s.procs(a)
	if err != nil {
		return err
	}
	if app != nil && !app.exited() {
		app.stop(ctx, s.opts.StopGrace)
	}
	if sidecar == nil || sidecar.exited() {
		if err := s.startSidecar(ctx, a); err != nil {
			return fmt.Errorf("devstack: restart %s: %w", appID, err)
		}
	}
	if len(a.cfg.Command) == 0 {
		return nil
	}
	if _, err := s.spawnApp(a, extraEnv); err != nil {
		return fmt.Errorf("devstack: restart %s: %w", appID, err)
	}
	if err := s.waitApp(ctx, a); err != nil {
		return fmt.Errorf("devstack: restart %s: %w", appID, err)
	}
	s.logger.InfoContext(ctx, "restarted app", "app", appID)
	return nil
}

// Wait blocks until a process exits that devstack did not stop, and returns
// an error naming it with the tail of its log, or until Close, then returns
// nil (or the exit that happened before Close).
func (s *Stack) Wait() error {
	select {
	case <-s.failed:
	case <-s.closedCh:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// Close stops everything in reverse order: the apps, then the sidecars
// (each tier in parallel, SIGTERM then SIGKILL after Options.StopGrace),
// then scheduler, placement and devkafka. It returns once every process has
// been reaped. Calling it again waits for the first call and returns nil.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.cancel() // ends readiness waits in progress
		s.mu.Lock()
		s.closing = true
		var apps, sidecars []*process
		for i := len(s.order) - 1; i >= 0; i-- {
			a := s.apps[s.order[i]]
			if a.app != nil {
				apps = append(apps, a.app)
			}
			if a.sidecar != nil {
				sidecars = append(sidecars, a.sidecar)
			}
		}
		infra := s.infra
		s.mu.Unlock()

		ctx := context.Background()
		for _, tier := range [][]*process{apps, sidecars} {
			var wg sync.WaitGroup
			for _, p := range tier {
				wg.Go(func() { p.stop(ctx, s.opts.StopGrace) })
			}
			wg.Wait()
		}
		for i := len(infra) - 1; i >= 0; i-- {
			infra[i].stop(ctx, s.opts.StopGrace)
		}
		s.http.CloseIdleConnections()
		s.logger.Info("stack stopped")
		close(s.closedCh)
	})
	<-s.closedCh
	return nil
}
