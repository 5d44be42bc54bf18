// Package devstack runs the TaskFlow local stack the way the Dapr CLI's
// `dapr run -f dapr.yaml` would, without the CLI and without Docker:
// optionally a development Kafka broker (cmd/devkafka), then Dapr's placement
// and scheduler services, then for every app of the run file its daprd
// sidecar and the app itself. `make run` and the end-to-end tests use it.
//
// Every process runs in its own process group and is killed when the process
// that started it dies, so an interrupted test leaves nothing behind. Output
// goes to StateDir/logs/<name>.log, where name is "kafka", "placement",
// "scheduler", the app ID, or the app ID followed by "-daprd". An app run as
// several instances (Options.Replicas) has one app and one daprd per
// instance; instance 0 keeps the names above, instance i >= 1 logs as
// "<appID>-<i>" and "<appID>-<i>-daprd".
package devstack

import (
	"bytes"
	"context"
	"encoding/json"
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
	"slices"
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
	// DaprBuild names the build of tools/dapr that `make dapr` makes (the
	// Makefile's DAPR_BUILD).
	DaprBuild = DaprVersion + "-b5"
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
	// Replicas runs an app as several instances with the same Dapr app ID,
	// as a Kubernetes Deployment's replicas would: app ID -> number of
	// instances, default 1. Each instance has its own app process, daprd and
	// ports; they share placement, so actors spread over the instances and
	// move when one stops. Instance 0 keeps the run file's ports (unless
	// FreePorts); instances 1 and up always get free ones. Every instance gets
	// the same environment, with its own ports, and TASKFLOW_INSTANCE=<i>.
	Replicas map[string]int
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
// `make dapr` builds into: ${XDG_CACHE_HOME:-~/.cache}/taskflow/dapr-<DaprBuild>.
func DefaultDaprBinDir() string {
	if dir := os.Getenv("DAPR_BIN_DIR"); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(".cache", "taskflow", "dapr-"+DaprBuild)
	}
	return filepath.Join(cache, "taskflow", "dapr-"+DaprBuild)
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

// App describes one running app of a Stack, or one instance of it.
type App struct {
	ID                   string
	Instance             int // 0 up to Options.Replicas[ID]-1
	AppPort              int // 0 when the app has no port
	DaprHTTPPort         int
	DaprGRPCPort         int
	DaprInternalGRPCPort int
	MetricsPort          int    // daprd's metrics
	URL                  string // http://127.0.0.1:AppPort, empty without a port
	DaprURL              string // http://127.0.0.1:DaprHTTPPort
}

// Stack is a running local stack. Its methods are safe for concurrent use;
// operations on one instance of an app (StartInstance, StopInstance,
// KillInstance, and StartApp, StopApp, KillApp for instance 0) run one at a
// time, operations on different instances run concurrently, and Close
// interrupts any of them that is waiting for health. After Close, the
// methods that start or stop processes return ErrClosed.
type Stack struct {
	opts         Options
	logger       *slog.Logger
	runFile      *RunFile
	env          map[string]string // Options.Env plus KAFKA_BROKERS if devkafka runs
	kafkaBrokers string
	placement    *placementPorts        // nil: no app uses actors
	portPool     *portPool              // where plan picked the free ports
	scheduler    *schedulerPorts        // nil: no app uses the scheduler
	apps         map[string][]*instance // app ID -> instances in index order, at least one
	order        []string               // app IDs in run-file order
	console      *consoleWriter
	http         *http.Client

	life     context.Context // done once Close starts
	cancel   context.CancelFunc
	failed   chan struct{} // closed at the first unexpected exit
	closedCh chan struct{} // closed once Close has stopped everything

	mu      sync.Mutex // guards the fields below and instance.app/.sidecar
	closing bool
	infra   []*process // kafka, placement, scheduler as started
	// infraStarts restarts an infrastructure process by name (RestartInfra).
	infraStarts map[string]func(context.Context) error
	failErr     error
	closeOnce   sync.Once
}

// instance is one replica of an app: its daprd and its process.
type instance struct {
	cfg   AppConfig
	index int
	ports sidecarPorts
	op    sync.Mutex // serialises StartInstance, StopInstance and KillInstance of this instance

	app, sidecar *process // guarded by Stack.mu; nil when never started
}

// name is the instance's log name: the app ID for instance 0, else
// "<appID>-<i>".
func (in *instance) name() string {
	if in.index == 0 {
		return in.cfg.AppID
	}
	return in.cfg.AppID + "-" + strconv.Itoa(in.index)
}

func (in *instance) sidecarName() string { return in.name() + "-daprd" }

// Start starts the stack described by opts: devkafka (if asked), placement
// and scheduler (if any app uses them), then in run-file order, instance by
// instance, each app's daprd and, once the sidecar's /v1.0/healthz/outbound
// answers 204, the app. It returns when every instance's /health/ready
// answers 200, then its daprd's /v1.0/healthz answers 204 (fully
// connected) and the daprd of an app that subscribes lists its
// subscriptions. ctx bounds startup only: stop the stack with Close. On failure
// everything started is stopped and the error names the process and quotes
// the tail of its log.
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
		apps:     map[string][]*instance{},
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
		s.portPool.release()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := s.start(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.logger.InfoContext(ctx, "stack ready", "apps", s.order, "state_dir", opts.StateDir)
	return s, nil
}

// plan assigns every port, checks app commands and Options.Replicas before
// anything starts.
func (s *Stack) plan() error {
	pool := newPortPool()
	s.portPool = pool
	free := s.opts.FreePorts
	if !free {
		for _, a := range s.runFile.Apps {
			pool.reserve(a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.DaprInternalGRPCPort, a.MetricsPort, a.ProfilePort)
		}
	}
	errs := []error{s.checkReplicas()}
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
		if len(a.Command) > 0 {
			if _, err := s.appCommand(a); err != nil {
				errs = append(errs, err)
			}
		}
		clash := false
		for i := range max(1, s.opts.Replicas[a.AppID]) {
			in := &instance{cfg: a, index: i}
			for _, name := range []string{in.name(), in.sidecarName()} {
				clash = clash || reserved[name]
				reserved[name] = true
			}
			// Only instance 0 may use the run file's ports: the others
			// would collide with it.
			port := func(fixed int) int {
				if i > 0 {
					return pick(0)
				}
				return pick(fixed)
			}
			in.ports = sidecarPorts{
				HTTP:     port(a.DaprHTTPPort),
				GRPC:     port(a.DaprGRPCPort),
				Internal: port(a.DaprInternalGRPCPort),
				Metrics:  port(a.MetricsPort),
			}
			if a.AppPort > 0 {
				in.ports.App = port(a.AppPort)
			}
			if a.EnableProfiling {
				in.ports.Profile = port(a.ProfilePort)
			}
			s.apps[a.AppID] = append(s.apps[a.AppID], in)
		}
		if clash {
			errs = append(errs, fmt.Errorf("app %s: its name clashes with a log name devstack uses", a.AppID))
		}
		s.order = append(s.order, a.AppID)
	}
	return errors.Join(errs...)
}

// checkReplicas reports every app ID of Options.Replicas that the run file
// lacks and every count below 1.
func (s *Stack) checkReplicas() error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(s.opts.Replicas)) {
		if _, ok := s.runFile.App(id); !ok {
			errs = append(errs, fmt.Errorf("Replicas: no app %q in %s", id, s.runFile.Path))
		}
		if n := s.opts.Replicas[id]; n < 1 {
			errs = append(errs, fmt.Errorf("Replicas: app %s: %d instances, want at least 1", id, n))
		}
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
	s.infraStarts = map[string]func(context.Context) error{}
	if err := s.startKafka(ctx); err != nil {
		return err
	}
	if s.placement != nil {
		s.infraStarts["placement"] = func(ctx context.Context) error {
			p, err := s.spawnInfra(procSpec{
				name: "placement",
				path: filepath.Join(s.opts.DaprBinDir, "placement"),
				args: placementArgs(*s.placement, ""),
			})
			if err != nil {
				return err
			}
			return s.waitHTTP(ctx, p, healthzURL(s.placement.Healthz), http.StatusOK)
		}
		if err := s.infraStarts["placement"](ctx); err != nil {
			return err
		}
	}
	if s.scheduler != nil {
		dataDir := filepath.Join(s.opts.StateDir, "scheduler")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("scheduler data dir: %w", err)
		}
		s.infraStarts["scheduler"] = func(ctx context.Context) error {
			p, err := s.spawnInfra(procSpec{
				name: "scheduler",
				path: filepath.Join(s.opts.DaprBinDir, "scheduler"),
				args: schedulerArgs(*s.scheduler, dataDir, ""),
			})
			if err != nil {
				return err
			}
			return s.waitHTTP(ctx, p, healthzURL(s.scheduler.Healthz), http.StatusOK)
		}
		if err := s.infraStarts["scheduler"](ctx); err != nil {
			return err
		}
	}

	// Sidecar first, then its app, instance by instance and app by app in
	// file order; the apps then come up together.
	var started []*instance
	for _, id := range s.order {
		for _, in := range s.apps[id] {
			if err := s.startSidecarRepicking(ctx, in); err != nil {
				return err
			}
			if len(in.cfg.Command) == 0 {
				continue // a sidecar alone: outbound readiness is all it can reach
			}
			if _, err := s.spawnApp(in, nil); err != nil {
				return err
			}
			started = append(started, in)
		}
	}
	for _, in := range started {
		if err := s.waitApp(ctx, in); err != nil {
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
		if port, err = s.portPool.next(); err != nil {
			return err
		}
	}
	addr := net.JoinHostPort(loopback, strconv.Itoa(port))
	s.infraStarts["kafka"] = func(ctx context.Context) error {
		p, err := s.spawnInfra(procSpec{name: "kafka", path: bin, args: []string{"-addr", addr}})
		if err != nil {
			return err
		}
		return s.waitReady(ctx, p, "kafka listening on "+addr, func(ctx context.Context) error {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return conn.Close()
		})
	}
	if err := s.infraStarts["kafka"](ctx); err != nil {
		return err
	}
	s.kafkaBrokers = addr
	s.env["KAFKA_BROKERS"] = addr
	return nil
}

// startSidecar starts in's daprd and waits for its outbound readiness.
func (s *Stack) startSidecar(ctx context.Context, in *instance) error {
	var placementAddr, schedulerAddr string
	if in.cfg.PlacementHostAddress != "" {
		placementAddr = s.placement.addr()
	}
	if in.cfg.SchedulerHostAddress != "" {
		schedulerAddr = s.scheduler.addr()
	}
	spec := procSpec{
		name: in.sidecarName(),
		path: filepath.Join(s.opts.DaprBinDir, "daprd"),
		args: daprdArgs(in.cfg, in.ports, placementAddr, schedulerAddr),
		dir:  in.cfg.AppDirPath,
		env:  mergeEnv(os.Environ(), in.cfg.Env, s.env),
	}
	if in.cfg.DaprdLogDestination.toConsole() {
		spec.console = s.consoleFor(spec.name)
	}
	p, err := s.spawn(spec, func(p *process) { in.sidecar = p })
	if err != nil {
		return err
	}
	return s.waitHTTP(ctx, p, in.daprURL()+"/v1.0/healthz/outbound", http.StatusNoContent)
}

// beforeSidecarStart, when set (by tests), runs before each start of a
// sidecar in a stack's first start, with the gRPC port it will bind.
var beforeSidecarStart func(appID string, grpcPort int)

// startSidecarRepicking is startSidecar for a stack's first start: a port
// picked in plan is claimed against other devstacks and lies outside the
// kernel's ephemeral range, yet a process that asks for that very number
// may still bind it before daprd does, so a sidecar that exits for an
// address in use is started again on newly picked ports, up to three
// times. Only ports devstack picked are moved, and only before anything
// else has read them.
func (s *Stack) startSidecarRepicking(ctx context.Context, in *instance) error {
	for attempt := 1; ; attempt++ {
		if beforeSidecarStart != nil {
			beforeSidecarStart(in.cfg.AppID, in.ports.GRPC)
		}
		err := s.startSidecar(ctx, in)
		if err == nil || attempt == 3 || (!s.opts.FreePorts && in.index == 0) || in.sidecar == nil || !in.sidecar.exited() {
			return err
		}
		if log, rerr := os.ReadFile(in.sidecar.logPath); rerr != nil || !bytes.Contains(log, []byte("address already in use")) {
			return err
		}
		s.logger.WarnContext(ctx, "a port picked for the sidecar was taken meanwhile; starting it on new ports", "sidecar", in.sidecarName(), "attempt", attempt)
		ports := in.ports
		for _, p := range []*int{&ports.HTTP, &ports.GRPC, &ports.Internal, &ports.Metrics} {
			if *p, err = s.portPool.next(); err != nil {
				return err
			}
		}
		in.ports = ports
	}
}

// spawnApp starts in's command; extra is environment for this start only.
// TASKFLOW_INSTANCE comes last: it names the process, nothing may change it.
func (s *Stack) spawnApp(in *instance, extra map[string]string) (*process, error) {
	cmd, err := s.appCommand(in.cfg)
	if err != nil {
		return nil, err
	}
	spec := procSpec{
		name: in.name(),
		path: cmd[0],
		args: cmd[1:],
		dir:  in.cfg.AppDirPath,
		env: mergeEnv(os.Environ(), s.followPorts(appEnv(in.cfg, in.ports)), s.env, s.opts.AppEnv[in.cfg.AppID], extra,
			map[string]string{"TASKFLOW_INSTANCE": strconv.Itoa(in.index)}),
		console: s.consoleFor(in.name()),
	}
	return s.spawn(spec, func(p *process) { in.app = p })
}

// followPorts rewrites the run file's env values that name another app's
// port on this machine ("http://localhost:8081") to the port that app
// really has (FreePorts moves them), so apps that find each other through
// their env keep finding each other.
func (s *Stack) followPorts(env map[string]string) map[string]string {
	var pairs []string
	for _, id := range s.order {
		a, _ := s.runFile.App(id)
		if insts := s.apps[id]; len(insts) > 0 && a.AppPort > 0 && insts[0].ports.App != a.AppPort {
			old, now := strconv.Itoa(a.AppPort), strconv.Itoa(insts[0].ports.App)
			pairs = append(pairs, "localhost:"+old, "localhost:"+now, "127.0.0.1:"+old, "127.0.0.1:"+now)
		}
	}
	if len(pairs) == 0 {
		return env
	}
	r := strings.NewReplacer(pairs...)
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = r.Replace(v)
	}
	return out
}

// waitApp waits until in's app answers /health/ready and then until its
// daprd is fully healthy (/v1.0/healthz: app channel, placement and
// scheduler connected), so callers can use the stack at once.
func (s *Stack) waitApp(ctx context.Context, in *instance) error {
	s.mu.Lock()
	app, sidecar := in.app, in.sidecar
	s.mu.Unlock()
	hasApp := app != nil && in.ports.App != 0
	if hasApp {
		if err := s.waitHTTP(ctx, app, in.appURL()+"/health/ready", http.StatusOK); err != nil {
			return err
		}
	}
	if err := s.waitHTTP(ctx, sidecar, in.daprURL()+"/v1.0/healthz", http.StatusNoContent); err != nil {
		return err
	}
	if !hasApp {
		return nil
	}
	return s.waitSubscribed(ctx, in, sidecar)
}

// waitSubscribed waits, for an HTTP app that subscribes to topics, until its
// daprd lists as many subscriptions as the app asks for. daprd subscribes
// only once its app health probe passed, which can come a probe interval
// (5 s) after /v1.0/healthz: a subscriber reading from the newest offset
// would miss what was published in between.
func (s *Stack) waitSubscribed(ctx context.Context, in *instance, sidecar *process) error {
	if !strings.HasPrefix(in.cfg.AppProtocol, "http") {
		return nil // the gRPC app channel's topics come over gRPC; ours subscribe over HTTP
	}
	var want []json.RawMessage
	err := s.getJSON(ctx, in.appURL()+"/dapr/subscribe", s.tokenFor(in.cfg.AppID, "APP_API_TOKEN", true), &want)
	if err != nil && !errors.Is(err, errNoRoute) {
		return fmt.Errorf("%s: its subscriptions: %w", in.name(), err)
	}
	if len(want) == 0 {
		return nil
	}
	return s.waitReady(ctx, sidecar, "subscriptions", func(ctx context.Context) error {
		var md struct {
			Subscriptions []json.RawMessage `json:"subscriptions"`
		}
		if err := s.getJSON(ctx, in.daprURL()+"/v1.0/metadata", s.tokenFor(in.cfg.AppID, "DAPR_API_TOKEN", false), &md); err != nil {
			return err
		}
		if len(md.Subscriptions) < len(want) {
			return fmt.Errorf("%d of %d subscriptions in place", len(md.Subscriptions), len(want))
		}
		return nil
	})
}

// get GETs url, with Dapr's token header when token is set.
func (s *Stack) get(ctx context.Context, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("dapr-api-token", token)
	}
	return s.http.Do(req)
}

// errNoRoute is a 404: an app without GET /dapr/subscribe subscribes to nothing.
var errNoRoute = errors.New("no such route")

// getJSON GETs url as get does and decodes a 200 answer into v.
func (s *Stack) getJSON(ctx context.Context, url, token string, v any) error {
	resp, err := s.get(ctx, url, token)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return fmt.Errorf("GET %s: %w", url, errNoRoute)
	default:
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func (in *instance) daprURL() string {
	return "http://" + net.JoinHostPort(loopback, strconv.Itoa(in.ports.HTTP))
}

func (in *instance) appURL() string {
	if in.ports.App == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(loopback, strconv.Itoa(in.ports.App))
}

func (in *instance) info() App {
	return App{
		ID:                   in.cfg.AppID,
		Instance:             in.index,
		AppPort:              in.ports.App,
		DaprHTTPPort:         in.ports.HTTP,
		DaprGRPCPort:         in.ports.GRPC,
		DaprInternalGRPCPort: in.ports.Internal,
		MetricsPort:          in.ports.Metrics,
		URL:                  in.appURL(),
		DaprURL:              in.daprURL(),
	}
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
		resp, err := s.get(ctx, url, "")
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

// App returns the ports and URL of the app with the given ID (of its
// instance 0); the zero App if there is none.
func (s *Stack) App(appID string) App {
	insts, ok := s.apps[appID]
	if !ok {
		return App{}
	}
	return insts[0].info()
}

// Instances returns every instance of the app with the given ID, in index
// order; nil if there is none. Instance i's processes log as LogPath names
// "<appID>-<i>" and "<appID>-<i>-daprd", instance 0's as the app ID and
// "<appID>-daprd".
func (s *Stack) Instances(appID string) []App {
	insts := s.apps[appID]
	if len(insts) == 0 {
		return nil
	}
	out := make([]App, 0, len(insts))
	for _, in := range insts {
		out = append(out, in.info())
	}
	return out
}

// Apps returns every app (its instance 0) in run-file order.
func (s *Stack) Apps() []App {
	out := make([]App, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.App(id))
	}
	return out
}

// SidecarToken is the DAPR_API_TOKEN appID's sidecar requires of its
// callers ("" when none): the stack's env over the run file's over the
// process's, as the sidecar got it.
func (s *Stack) SidecarToken(appID string) string { return s.tokenFor(appID, "DAPR_API_TOKEN", false) }

// tokenFor resolves the variable name (DAPR_API_TOKEN, APP_API_TOKEN) as
// appID's sidecar got it, or its app when ofApp (Options.AppEnv on top).
func (s *Stack) tokenFor(appID, name string, ofApp bool) string {
	if v, ok := s.opts.AppEnv[appID][name]; ok && ofApp {
		return v
	}
	if v, ok := s.env[name]; ok {
		return v
	}
	if a, ok := s.runFile.App(appID); ok {
		if v, ok := a.Env[name]; ok {
			return v
		}
	}
	return os.Getenv(name)
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
// "scheduler", an app ID, or an app ID followed by "-daprd"; for instance
// i >= 1 of an app, "<appID>-<i>" or "<appID>-<i>-daprd".
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
	for _, insts := range s.apps {
		for _, in := range insts {
			add(in.app)
			add(in.sidecar)
		}
	}
	return pids
}

func (s *Stack) lookup(appID string, i int) (*instance, error) {
	insts, ok := s.apps[appID]
	if !ok {
		return nil, fmt.Errorf("devstack: no app %q in %s", appID, s.runFile.Path)
	}
	if i < 0 || i >= len(insts) {
		return nil, fmt.Errorf("devstack: app %s has %d instances, no instance %d", appID, len(insts), i)
	}
	return insts[i], nil
}

// procs returns the instance's processes, or ErrClosed.
func (s *Stack) procs(in *instance) (app, sidecar *process, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, nil, ErrClosed
	}
	return in.app, in.sidecar, nil
}

// StopApp stops instance 0 of an app: see StopInstance.
func (s *Stack) StopApp(ctx context.Context, appID string, sidecarToo bool) error {
	return s.StopInstance(ctx, appID, 0, sidecarToo)
}

// StopInstance stops instance i of an app gracefully (SIGTERM, SIGKILL after
// Options.StopGrace or when ctx is done) and, if sidecarToo, then its daprd.
// Its exit does not count as unexpected for Wait.
func (s *Stack) StopInstance(ctx context.Context, appID string, i int, sidecarToo bool) error {
	in, err := s.lookup(appID, i)
	if err != nil {
		return err
	}
	in.op.Lock()
	defer in.op.Unlock()
	app, sidecar, err := s.procs(in)
	if err != nil {
		return err
	}
	if app != nil {
		app.stop(ctx, s.opts.StopGrace)
	}
	if sidecarToo && sidecar != nil {
		sidecar.stop(ctx, s.opts.StopGrace)
	}
	s.logger.InfoContext(ctx, "stopped app", "app", appID, "instance", i, "sidecar_too", sidecarToo)
	return nil
}

// KillApp kills instance 0 of an app: see KillInstance.
// KillInfra sends SIGKILL to an infrastructure process ("kafka",
// "placement" or "scheduler"), as a crash would, and waits until it is
// gone. The exit does not count as unexpected for Wait. The development
// broker keeps its data in memory: killing it loses every message.
func (s *Stack) KillInfra(name string) error {
	s.mu.Lock()
	var p *process
	for _, q := range s.infra {
		if q.name == name && !q.exited() {
			p = q
		}
	}
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("devstack: no running %s", name)
	}
	p.kill()
	s.logger.Info("killed", "process", name)
	return nil
}

// RestartInfra starts a killed infrastructure process again on the same
// ports (the scheduler on its data) and waits until it answers.
func (s *Stack) RestartInfra(ctx context.Context, name string) error {
	start, ok := s.infraStarts[name]
	if !ok {
		return fmt.Errorf("devstack: %s is not part of this stack", name)
	}
	return start(ctx)
}

// KillSidecar sends SIGKILL to instance 0's daprd alone; StartApp brings it
// back (and restarts the app on it).
func (s *Stack) KillSidecar(appID string) error {
	in, err := s.lookup(appID, 0)
	if err != nil {
		return err
	}
	in.op.Lock()
	defer in.op.Unlock()
	_, sidecar, err := s.procs(in)
	if err != nil {
		return err
	}
	if sidecar != nil {
		sidecar.kill()
	}
	s.logger.Info("killed sidecar", "app", appID)
	return nil
}

func (s *Stack) KillApp(appID string, sidecarToo bool) error {
	return s.KillInstance(appID, 0, sidecarToo)
}

// KillInstance sends SIGKILL to instance i of an app and, if sidecarToo, to
// its daprd, as a crash would, and waits until they are gone. The exit does
// not count as unexpected for Wait.
func (s *Stack) KillInstance(appID string, i int, sidecarToo bool) error {
	in, err := s.lookup(appID, i)
	if err != nil {
		return err
	}
	in.op.Lock()
	defer in.op.Unlock()
	app, sidecar, err := s.procs(in)
	if err != nil {
		return err
	}
	if app != nil {
		app.kill()
	}
	if sidecarToo && sidecar != nil {
		sidecar.kill()
	}
	s.logger.Info("killed app", "app", appID, "instance", i, "sidecar_too", sidecarToo)
	return nil
}

// StartApp (re)starts instance 0 of an app: see StartInstance.
func (s *Stack) StartApp(ctx context.Context, appID string, extraEnv map[string]string) error {
	return s.StartInstance(ctx, appID, 0, extraEnv)
}

// StartInstance (re)starts instance i of an app: a running app process is
// stopped gracefully first, its daprd is started if it is not running, and
// StartInstance returns once the instance is ready. extraEnv applies to this
// start only, over Options.AppEnv. The ports stay those of the first start.
func (s *Stack) StartInstance(ctx context.Context, appID string, i int, extraEnv map[string]string) error {
	in, err := s.lookup(appID, i)
	if err != nil {
		return err
	}
	in.op.Lock()
	defer in.op.Unlock()
	app, sidecar, err := s.procs(in)
	if err != nil {
		return err
	}
	if app != nil && !app.exited() {
		app.stop(ctx, s.opts.StopGrace)
	}
	if sidecar == nil || sidecar.exited() {
		if err := s.startSidecar(ctx, in); err != nil {
			return fmt.Errorf("devstack: restart %s: %w", in.name(), err)
		}
	}
	if len(in.cfg.Command) == 0 {
		return nil
	}
	if _, err := s.spawnApp(in, extraEnv); err != nil {
		return fmt.Errorf("devstack: restart %s: %w", in.name(), err)
	}
	if err := s.waitApp(ctx, in); err != nil {
		return fmt.Errorf("devstack: restart %s: %w", in.name(), err)
	}
	s.logger.InfoContext(ctx, "restarted app", "app", appID, "instance", i)
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

// Close stops everything in reverse order: the apps (every instance), then
// the sidecars (each tier in parallel, SIGTERM then SIGKILL after
// Options.StopGrace), then scheduler, placement and devkafka. It returns
// once every process has been reaped. Calling it again waits for the first
// call and returns nil.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.cancel() // ends readiness waits in progress
		s.mu.Lock()
		s.closing = true
		var apps, sidecars []*process
		for i := len(s.order) - 1; i >= 0; i-- {
			for _, in := range s.apps[s.order[i]] {
				if in.app != nil {
					apps = append(apps, in.app)
				}
				if in.sidecar != nil {
					sidecars = append(sidecars, in.sidecar)
				}
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
		if s.portPool != nil {
			s.portPool.release()
		}
		s.http.CloseIdleConnections()
		s.logger.Info("stack stopped")
		close(s.closedCh)
	})
	<-s.closedCh
	return nil
}
