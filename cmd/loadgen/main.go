// Command loadgen measures TaskFlow under load through the whole running
// stack and prints every figure in one table, each beside its target and a
// bare-Dapr reference measured in the same run (machines are noisy: the
// ratio is what carries from one machine to another).
//
// It starts its own stack from dapr.yaml (free ports, a fresh database,
// the binaries in bin/), then runs the phases asked for, in this order:
//
//	ping             bare TaskActor.Ping calls through two sidecars (the reference for P1)
//	create           P1: POST /api/v1/tasks through the whole pipeline; afterwards every
//	                 acknowledged create must be in the tasks table and the audit log
//	remind-bare      bare RegisterActorReminder calls on the actors' sidecar (the reference for P1r)
//	create-reminder  P1r: creates that carry a reminder
//	sse              P2: API 201 -> event parsed by an EventSource-style client, at a fixed rate
//	streams          P6: concurrent SSE streams held by one notifier, memory per stream, heartbeats
//	reminders        10,000 reminders falling due within a minute: firing lag
//	ticks            series recurring every second: ticks handled and their lag
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/devstack"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/postgres"
)

type options struct {
	root         string
	clients      int
	duration     time.Duration
	warmup       time.Duration
	users        int
	actorIDs     int // 0: a new actor for every call (measures activation)
	keepDB       bool
	pprof        bool
	phases       string
	gogc         string
	gomaxprocs   string
	series       int
	reminds      int
	window       time.Duration
	streams      int
	streamsHTTP1 int
	sseRate      int
	heartbeat    time.Duration
}

// allPhases is the order phases run in.
var allPhases = []string{"ping", "create", "remind-bare", "create-reminder", "sse", "streams", "reminders", "ticks"}

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "repository root (dapr.yaml, components/, bin/)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients in the closed-loop phases")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured time per closed-loop phase")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up per closed-loop phase")
	flag.IntVar(&o.users, "users", 100, "distinct users creating tasks")
	flag.IntVar(&o.actorIDs, "actors", 1000, "distinct actor ids pinged in the ping phase (0: a new one each call)")
	flag.BoolVar(&o.keepDB, "keep-db", false, "keep the benchmark database")
	flag.StringVar(&o.phases, "phases", "ping,create", "comma-separated phases, or all: "+strings.Join(allPhases, ","))
	flag.IntVar(&o.series, "series", 500, "ticks phase: series that each recur every second")
	flag.IntVar(&o.reminds, "reminders", 10000, "reminders phase: reminders to fire")
	flag.DurationVar(&o.window, "window", time.Minute, "reminders phase: they fall due within this window")
	flag.IntVar(&o.streams, "streams", 20000, "streams phase: concurrent streams to open on one notifier over HTTP/2")
	flag.IntVar(&o.streamsHTTP1, "streams-http1", 15000, "streams phase: then as many over HTTP/1.1, one socket each (0: skip)")
	flag.IntVar(&o.sseRate, "sse-rate", 500, "sse phase: creates per second")
	flag.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "the notifier's heartbeat interval in this run (streams phase checks it)")
	flag.StringVar(&o.gogc, "gogc", "", "GOGC for every process of the stack (default: Go's)")
	flag.StringVar(&o.gomaxprocs, "gomaxprocs", "", "GOMAXPROCS for every process of the stack (default: Go's, the number of CPUs)")
	flag.BoolVar(&o.pprof, "pprof", false, "serve pprof on 127.0.0.1:6061 (actors), :6062 (api), :6063 (notifier), :6064 (auditor)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// bench is one run: the stack, its database, and the report being filled.
type bench struct {
	o       options
	stack   *devstack.Stack
	pool    *pgxpool.Pool
	dbURL   string
	tokens  []string
	httpc   *http.Client
	apiURL  string
	report  report
	phases  map[string]bool
	started time.Time
}

func run(ctx context.Context, o options) error {
	phases := map[string]bool{}
	for _, p := range strings.Split(o.phases, ",") {
		switch p = strings.TrimSpace(p); {
		case p == "all":
			for _, q := range allPhases {
				phases[q] = true
			}
		case slices.Contains(allPhases, p):
			phases[p] = true
		case p != "":
			return fmt.Errorf("unknown phase %q (phases: %s)", p, strings.Join(allPhases, ","))
		}
	}
	raiseFileLimit()
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	dbName := "taskflow_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	baseURL := platform.NewEnv().String("DATABASE_URL", postgres.DefaultURL)
	cfg, err := pgx.ParseConfig(baseURL)
	if err != nil {
		return err
	}
	dbURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, dbName)
	if err := postgres.EnsureDatabase(ctx, dbURL); err != nil {
		return err
	}
	if !o.keepDB {
		defer dropDatabase(baseURL, dbName)
	}
	stateDir, err := os.MkdirTemp("", "taskflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	env := map[string]string{"DATABASE_URL": dbURL, "KAFKA_BROKERS": "", "JWT_SECRET": auth.DevSecret, "LOG_LEVEL": "warn",
		"API_WRITE_RATE":          "0", // the load is a few users writing as fast as the system takes
		"RECURRENCE_MIN_INTERVAL": "1s", "NOTIFIER_HEARTBEAT": o.heartbeat.String()}
	if o.gogc != "" {
		env["GOGC"] = o.gogc
	}
	if o.gomaxprocs != "" {
		env["GOMAXPROCS"] = o.gomaxprocs
	}
	stack, err := devstack.Start(startCtx, devstack.Options{
		Root: root, StateDir: stateDir, FreePorts: true, Kafka: true, Env: env,
		Logger: slog.New(slog.DiscardHandler),
		AppEnv: pprofEnv(o.pprof),
	})
	if err != nil {
		return err
	}
	defer stack.Close()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	b := &bench{o: o, stack: stack, pool: pool, dbURL: dbURL, phases: phases, started: time.Now(),
		httpc:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second},
		apiURL: stack.App("api").URL + "/api/v1/tasks"}
	b.tokens = make([]string, o.users)
	for i := range b.tokens {
		if b.tokens[i], err = auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("load-user-%d", i), auth.MintOptions{TTL: 2 * time.Hour}); err != nil {
			return err
		}
	}
	fmt.Printf("stack up: %d CPUs, GOMAXPROCS %s, GOGC %s; %d clients, %v per closed-loop phase after %v warm-up\n",
		runtime.NumCPU(), orDefault(o.gomaxprocs, "default"), orDefault(o.gogc, "default"), o.clients, o.duration, o.warmup)

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ping", b.ping}, {"create", b.create}, {"remind-bare", b.remindBare}, {"create-reminder", b.createWithReminder},
		{"sse", b.sseLatency}, {"streams", b.holdStreams}, {"reminders", b.reminders}, {"ticks", b.ticks},
	}
	var failed []string
	for _, s := range steps {
		if !phases[s.name] || ctx.Err() != nil {
			continue
		}
		fmt.Printf("-- %s (at %v)\n", s.name, time.Since(b.started).Round(time.Second))
		if err := s.fn(ctx); err != nil {
			fmt.Printf("   %s failed: %v\n", s.name, err)
			failed = append(failed, s.name)
		}
	}
	b.report.print(os.Stdout)
	line, _ := json.Marshal(b.report.json())
	fmt.Printf("\nresult %s\n", line)
	if len(failed) > 0 {
		return fmt.Errorf("phases failed: %s", strings.Join(failed, ", "))
	}
	if misses := b.report.misses(); len(misses) > 0 {
		fmt.Printf("\ntargets not met: %s\n", strings.Join(misses, "; "))
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// raiseFileLimit lifts the open-files limit as far as allowed: the streams
// phase holds tens of thousands of connections, here and in the notifier
// (which inherits the limit).
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	want := uint64(200_000)
	if lim.Max < want {
		try := syscall.Rlimit{Cur: want, Max: want} // allowed to root
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &try) == nil {
			return
		}
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

func dropDatabase(baseURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(baseURL)
	if err != nil {
		return
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func pprofEnv(on bool) map[string]map[string]string {
	if !on {
		return nil
	}
	return map[string]map[string]string{
		"actors": {"PPROF_ADDR": "127.0.0.1:6061"}, "api": {"PPROF_ADDR": "127.0.0.1:6062"},
		"notifier": {"PPROF_ADDR": "127.0.0.1:6063"}, "auditor": {"PPROF_ADDR": "127.0.0.1:6064"},
	}
}

var errNoData = errors.New("nothing measured")
