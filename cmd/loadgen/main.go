// Command loadgen measures TaskFlow under load through the whole running
// stack. It starts its own stack from dapr.yaml (free ports, a fresh
// database, the binaries in bin/), then:
//
//  1. the ceiling: bare TaskActor.Ping calls through two sidecars (the api
//     app's sidecar to the actors app's sidecar), as a Dapr client would;
//  2. creates: POST /api/v1/tasks from N concurrent clients (API, actor,
//     PostgreSQL transaction with the outbox row), then waits until the
//     outbox relay has published every event to Kafka and both subscribers
//     (notifier, auditor) have received them.
//
// It prints calls/s, creates/s and latency percentiles.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/devstack"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

type options struct {
	root     string
	clients  int
	duration time.Duration
	warmup   time.Duration
	users    int
	actorIDs int // 0: a new actor for every call (measures activation)
	keepDB   bool
	pprof    bool
	phases   string
	gogc     string
	series   int
	reminds  int
	window   time.Duration
	streams  int
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "repository root (dapr.yaml, components/, bin/)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured time per phase")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up per phase")
	flag.IntVar(&o.users, "users", 100, "distinct users creating tasks")
	flag.IntVar(&o.actorIDs, "actors", 1000, "distinct actor ids pinged in the ceiling phase")
	flag.BoolVar(&o.keepDB, "keep-db", false, "keep the benchmark database")
	flag.StringVar(&o.phases, "phases", "ping,create", "phases to run: ping, create, ticks")
	flag.IntVar(&o.series, "series", 200, "ticks phase: series that each recur every second")
	flag.IntVar(&o.reminds, "reminders", 10000, "reminders phase: reminders to fire")
	flag.DurationVar(&o.window, "window", time.Minute, "reminders phase: they fall due within this window")
	flag.IntVar(&o.streams, "streams", 10000, "sse phase: concurrent streams to open on one notifier")
	flag.StringVar(&o.gogc, "gogc", "", "GOGC for every process of the stack (default: Go's)")
	flag.BoolVar(&o.pprof, "pprof", false, "serve pprof on 127.0.0.1:6061 (actors), :6062 (api), :6063 (notifier), :6064 (auditor)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
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
	stack, err := devstack.Start(startCtx, devstack.Options{
		Root: root, StateDir: stateDir, FreePorts: true, Kafka: true,
		Env: map[string]string{"DATABASE_URL": dbURL, "KAFKA_BROKERS": "", "JWT_SECRET": auth.DevSecret, "LOG_LEVEL": "warn", "GOGC": o.gogc,
			"RECURRENCE_MIN_INTERVAL": "1s"},
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
	fmt.Printf("stack up (GOMAXPROCS-visible CPUs: %d); %d clients, %v per phase after %v warm-up\n\n",
		numCPU(), o.clients, o.duration, o.warmup)

	// 1. The ceiling: bare actor calls through two sidecars.
	conn, err := platform.DaprClient(ctx, stack.App("api").DaprGRPCPort)
	if err != nil {
		return err
	}
	defer conn.Close()
	pinger := actors.NewClient(conn)
	actorIDs := make([]uuid.UUID, o.actorIDs)
	for i := range actorIDs {
		actorIDs[i] = uuid.Must(uuid.NewV7())
	}
	var n atomic.Int64
	var ping result
	if strings.Contains(o.phases, "ping") {
		ping = measure(ctx, o, func(ctx context.Context) error {
			i := n.Add(1)
			if o.actorIDs == 0 { // a new actor every call: activation cost
				return pinger.Ping(ctx, uuid.Must(uuid.NewV7()))
			}
			return pinger.Ping(ctx, actorIDs[i%int64(len(actorIDs))])
		})
	}

	// 2. Creates through the whole stack.
	tokens := make([]string, o.users)
	for i := range tokens {
		if tokens[i], err = auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("load-user-%d", i), auth.MintOptions{TTL: time.Hour}); err != nil {
			return err
		}
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, MaxConnsPerHost: o.clients * 2}, Timeout: 30 * time.Second}
	apiURL := stack.App("api").URL + "/api/v1/tasks"
	var seq atomic.Int64
	var create result
	if strings.Contains(o.phases, "create") {
		create = measure(ctx, o, func(ctx context.Context) error {
			i := seq.Add(1)
			body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("load task %d", i), "priority": "medium", "tags": []string{"load"}})
			req, _ := http.NewRequestWithContext(ctx, "POST", apiURL, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i%int64(len(tokens))])
			resp, err := httpc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	}

	if strings.Contains(o.phases, "sse") {
		if err := sseBench(ctx, o, httpc, apiURL, stack.App("notifier").URL); err != nil {
			return err
		}
	}
	if strings.Contains(o.phases, "reminders") {
		if err := reminders(ctx, o, httpc, apiURL, tokens, stack.KafkaBrokers()); err != nil {
			return err
		}
	}
	if strings.Contains(o.phases, "ticks") {
		if err := ticks(ctx, o, httpc, apiURL, tokens, dbURL); err != nil {
			return err
		}
	}

	// Everything created must reach Kafka, the notifier, and the audit log
	// (written and committed, not only received).
	total := seq.Load()
	drainStart := time.Now()
	var drained time.Duration
	reached := map[string]func() (float64, error){
		"notifier": func() (float64, error) {
			return metric(stack.App("notifier").URL+"/metrics", `taskflow_notifier_events_received_total{type="task.created"}`), nil
		},
		"auditor": func() (float64, error) {
			var n int64
			err := pool.QueryRow(ctx, `SELECT count(*) FROM task_events WHERE event_type = 'task.created'`).Scan(&n)
			return float64(n), err
		},
	}
	for _, app := range []string{"notifier", "auditor"} {
		for {
			v, err := reached[app]()
			if err != nil {
				return err
			}
			if v >= float64(create.ok) {
				break
			}
			if time.Since(drainStart) > 5*time.Minute || ctx.Err() != nil {
				return fmt.Errorf("%s has fewer events than the %d creates", app, create.ok)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	drained = time.Since(drainStart)
	lag := metric(stack.App("actors").URL+"/metrics", "taskflow_outbox_lag_seconds_sum") /
		max(1, metric(stack.App("actors").URL+"/metrics", "taskflow_outbox_lag_seconds_count"))

	fmt.Printf("| phase | ok | errors | rate/s | p50 | p99 |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| bare actor call (api sidecar -> actors sidecar -> Ping) | %d | %d | %.0f | %v | %v |\n",
		ping.ok, ping.errors, ping.rate, ping.p50, ping.p99)
	fmt.Printf("| create (HTTP -> API -> actor -> PostgreSQL + outbox) | %d | %d | %.0f | %v | %v |\n",
		create.ok, create.errors, create.rate, create.p50, create.p99)
	fmt.Printf("\n%d tasks created in all; every task.created reached Kafka, the notifier and the audit log (committed) %v after the last create; mean outbox commit-to-publish lag %.1f ms\n",
		total, drained.Round(time.Millisecond), lag*1000)
	if create.firstErr != nil {
		fmt.Printf("first create error: %v\n", create.firstErr)
	}
	if ping.firstErr != nil {
		fmt.Printf("first ping error: %v\n", ping.firstErr)
	}
	line, _ := json.Marshal(map[string]any{"clients": o.clients, "duration_s": o.duration.Seconds(),
		"actor_calls_per_s": int(ping.rate), "actor_p50_ms": ms(ping.p50), "actor_p99_ms": ms(ping.p99),
		"creates_per_s": int(create.rate), "create_p50_ms": ms(create.p50), "create_p99_ms": ms(create.p99),
		"create_errors": create.errors, "drain_ms": drained.Milliseconds()})
	fmt.Printf("\nresult %s\n", line)
	if create.errors > 0 || ping.errors > 0 {
		return errors.New("some requests failed")
	}
	return nil
}

type result struct {
	ok, errors int
	rate       float64
	p50, p99   time.Duration
	firstErr   error
}

// measure runs call from o.clients goroutines: o.warmup unmeasured, then
// o.duration measured.
func measure(ctx context.Context, o options, call func(context.Context) error) result {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       result
		measuring atomic.Bool
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range o.clients {
		wg.Go(func() {
			var local []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil {
				start := time.Now()
				err := call(ctx)
				d := time.Since(start)
				if !measuring.Load() || ctx.Err() != nil {
					continue
				}
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	time.Sleep(o.warmup)
	measuring.Store(true)
	start := time.Now()
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	slices.Sort(latencies)
	res.ok = len(latencies)
	res.rate = float64(res.ok) / elapsed.Seconds()
	if n := len(latencies); n > 0 {
		res.p50 = latencies[n*50/100].Round(100 * time.Microsecond)
		res.p99 = latencies[min(n-1, n*99/100)].Round(100 * time.Microsecond)
	}
	return res
}

func metric(url, series string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
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

// ticks measures recurring series on the stack: o.series series that each
// recur every second, so the stack has o.series ticks/s to handle (actor
// reminder fires, the series actor has the instance's actor create the
// instance, the reminder is re-armed). It reports the ticks handled per
// second and the lag from occurrence to instance creation.
func ticks(ctx context.Context, o options, httpc *http.Client, apiURL string, tokens []string, dbURL string) error {
	start := time.Now().Add(5 * time.Second).UTC().Truncate(time.Second)
	for i := range o.series {
		body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("tick %d", i), "due_date": start.Format(time.RFC3339),
			"recurrence_pattern": "FREQ=SECONDLY"})
		// A saturated stack answers 503: retry as a client would, with the
		// same Idempotency-Key so that a retry never makes a second series.
		key := fmt.Sprintf("series-%d-%d", start.Unix(), i)
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequestWithContext(ctx, "POST", apiURL, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			req.Header.Set("Idempotency-Key", key)
			resp, err := httpc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || attempt == 20 {
				return fmt.Errorf("create series: status %d", resp.StatusCode)
			}
			time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		}
	}
	from := time.Now().Add(o.warmup)
	if s := start.Add(o.warmup); s.After(from) {
		from = s
	}
	time.Sleep(time.Until(from.Add(o.duration)))
	to := from.Add(o.duration)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var n int
	var p50, p99 float64
	err = conn.QueryRow(ctx, `SELECT count(*),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurrence_date)), 0),
			coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurrence_date)), 0)
		FROM tasks WHERE parent_recurring_task_id IS NOT NULL AND occurrence_date >= $1 AND occurrence_date < $2`, from, to).
		Scan(&n, &p50, &p99)
	if err != nil {
		return err
	}
	fmt.Printf("| series ticks (%d series x 1/s: reminder -> series actor -> instance actor -> PostgreSQL) | %d | 0 | %.0f | %.1fms | %.1fms |\n",
		o.series, n, float64(n)/o.duration.Seconds(), p50*1000, p99*1000)
	fmt.Printf("  (occurrence -> instance created lag; demand %d ticks/s)\n", o.series)
	return nil
}

// reminders measures reminder firing: o.reminds tasks each with one
// reminder, due evenly over o.window once they are all set up. The lag of
// a firing is from its scheduled time to its task.reminder.triggered event
// being read from the topic.
func reminders(ctx context.Context, o options, httpc *http.Client, apiURL string, tokens []string, brokers string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(task.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// Setup registers one actor reminder per task (Dapr's costliest actor
	// call); leave time for it before the window opens.
	setup := time.Duration(o.reminds/250+20) * time.Second
	start := time.Now().Add(setup).Truncate(time.Second)
	fmt.Printf("reminders: creating %d tasks; they fall due between %s and %s\n", o.reminds, start.Format("15:04:05"),
		start.Add(o.window).Format("15:04:05"))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.clients)
	for range o.clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(o.reminds) {
					return
				}
				at := start.Add(time.Duration(i) * o.window / time.Duration(o.reminds))
				body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("remind %d", i),
					"reminders": []map[string]any{{"at": at.UTC().Format(time.RFC3339Nano)}}})
				req, _ := http.NewRequestWithContext(ctx, "POST", apiURL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[int(i)%len(tokens)])
				resp, err := httpc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("create: status %d: %s", resp.StatusCode, b)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if time.Now().After(start) {
		return fmt.Errorf("setup took longer than %v: raise it or lower -reminders", setup)
	}
	fmt.Printf("reminders: set up with %v to spare\n", time.Until(start).Round(time.Second))

	deadline := start.Add(o.window + 2*time.Minute)
	var lags []time.Duration
	for len(lags) < o.reminds && time.Now().Before(deadline) && ctx.Err() == nil {
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		got := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := task.ParseCloudEvent(r.Value)
			if err == nil && ev.EventType == task.EventReminderTriggered && ev.Reminder != nil {
				lags = append(lags, got.Sub(ev.Reminder.ScheduledAt))
			}
		})
	}
	slices.Sort(lags)
	if len(lags) == 0 {
		return errors.New("no reminder fired")
	}
	pct := func(p int) time.Duration { return lags[min(len(lags)-1, len(lags)*p/100)].Round(time.Millisecond) }
	fmt.Printf("| reminder firing (%d due within %v; scheduled time -> event read from the topic) | %d | %d | %.0f/s | %v | %v |\n",
		o.reminds, o.window, len(lags), o.reminds-len(lags), float64(len(lags))/o.window.Seconds(), pct(50), pct(99))
	fmt.Printf("  max lag %v\n", lags[len(lags)-1].Round(time.Millisecond))
	if len(lags) < o.reminds {
		return fmt.Errorf("%d of %d reminders fired", len(lags), o.reminds)
	}
	return nil
}

// sseBench measures the notifier: the latency from the API's 201 to the
// task.created event arriving on an SSE stream, at fixed event rates; then
// how many concurrent streams one notifier holds and what each costs.
func sseBench(ctx context.Context, o options, httpc *http.Client, apiURL, notifierURL string) error {
	const users = 50
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i], _ = auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("sse-user-%d", i), auth.MintOptions{TTL: time.Hour})
	}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	for _, tok := range tokens {
		events, err := openSSE(streamCtx, notifierURL, tok)
		if err != nil {
			return err
		}
		go func() {
			for data := range events {
				var ev struct {
					TaskID string `json:"task_id"`
					Type   string `json:"event_type"`
				}
				if json.Unmarshal(data, &ev) == nil && ev.Type == "task.created" {
					mu.Lock()
					arrived[ev.TaskID] = time.Now()
					mu.Unlock()
				}
			}
		}()
	}
	create := func(i int) (string, time.Time, error) {
		body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("sse %d", i)})
		req, _ := http.NewRequestWithContext(ctx, "POST", apiURL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[i%users])
		resp, err := httpc.Do(req)
		if err != nil {
			return "", time.Time{}, err
		}
		defer resp.Body.Close()
		var t struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != http.StatusCreated {
			return "", time.Time{}, fmt.Errorf("create: status %d", resp.StatusCode)
		}
		return t.ID, time.Now(), nil
	}
	// Warm-up: the notifier's consumer group starts at the newest offset
	// once it has joined; wait until events come through.
	for deadline := time.Now().Add(time.Minute); ; {
		id, _, err := create(0)
		if err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		_, ok := arrived[id]
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("sse: no event reached a stream within a minute")
		}
	}
	for _, rate := range []int{100, 1000} {
		sent := map[string]time.Time{}
		var smu sync.Mutex
		jobs := make(chan int, rate)
		var wg sync.WaitGroup
		var failed, skipped atomic.Int64
		for range 128 {
			wg.Go(func() {
				for i := range jobs {
					id, at, err := create(i)
					if err != nil {
						failed.Add(1)
						continue
					}
					smu.Lock()
					sent[id] = at
					smu.Unlock()
				}
			})
		}
		tick := time.NewTicker(time.Second / time.Duration(rate))
		end := time.Now().Add(o.duration)
		for i := 0; time.Now().Before(end); i++ {
			<-tick.C
			select {
			case jobs <- i:
			default:
				skipped.Add(1) // the stack is not keeping up with this rate
			}
		}
		tick.Stop()
		close(jobs)
		wg.Wait()
		var lat []time.Duration
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			lat = lat[:0]
			mu.Lock()
			for id, at := range sent {
				if got, ok := arrived[id]; ok {
					lat = append(lat, max(0, got.Sub(at)))
				}
			}
			mu.Unlock()
			if len(lat) == len(sent) {
				break
			}
		}
		slices.Sort(lat)
		if len(lat) == 0 {
			return errors.New("sse: no event arrived")
		}
		pct := func(p int) time.Duration { return lat[min(len(lat)-1, len(lat)*p/100)].Round(100 * time.Microsecond) }
		fmt.Printf("| SSE delivery at %d events/s (API 201 -> event on the stream) | %d | %d | %.0f | %v | %v |\n",
			rate, len(lat), len(sent)-len(lat)+int(failed.Load()), float64(len(sent))/o.duration.Seconds(), pct(50), pct(99))
		if n := skipped.Load(); n > 0 {
			fmt.Printf("  (%d of the scheduled creates could not be sent: the stack did not keep up with %d/s)\n", n, rate)
		}
	}
	stopStreams()

	// How many streams one notifier holds, and the memory of each.
	metricsURL := notifierURL + "/metrics"
	runtimeGC := func() float64 { return metric(metricsURL, "process_resident_memory_bytes") }
	before := runtimeGC()
	holdCtx, release := context.WithCancel(ctx)
	defer release()
	var opened atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int, o.streams)
	for i := range o.streams {
		next <- i
	}
	close(next)
	var openErr atomic.Value
	for range 64 {
		wg.Go(func() {
			for i := range next {
				tok, _ := auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("hold-%d", i), auth.MintOptions{TTL: time.Hour})
				if _, err := openSSE(holdCtx, notifierURL, tok); err != nil {
					openErr.Store(err)
					return
				}
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // let the notifier settle before reading its memory
	held := metric(metricsURL, "taskflow_notifier_streams")
	after := runtimeGC()
	fmt.Printf("| SSE streams held by one notifier | %d opened, %.0f held | | | resident memory %.0f MiB -> %.0f MiB: %.1f KiB per stream | |\n",
		opened.Load(), held, before/(1<<20), after/(1<<20), (after-before)/1024/max(1, held))
	if err, _ := openErr.Load().(error); err != nil {
		fmt.Printf("  (opening stopped at %d: %v)\n", opened.Load(), err)
	}
	release()
	return nil
}

// openSSE opens a stream and returns its events' data lines.
func openSSE(ctx context.Context, base, token string) (<-chan []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/notifications/stream?access_token="+token, nil)
	resp, err := sseClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("stream: status %d", resp.StatusCode)
	}
	out := make(chan []byte, 64)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case out <- []byte(line):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// sseClient keeps one connection per stream (streams never end on their own).
var sseClient = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 100, DisableCompression: true}}
