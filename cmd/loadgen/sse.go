package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskflow/taskflow/auth"
)

// sseEvent is one event as an EventSource parses it.
type sseEvent struct {
	ID, Type string
	Data     []byte
	At       time.Time
}

// sseStream reads one stream like a browser's EventSource: fields until a
// blank line dispatch an event; comment lines (": heartbeat") are reported
// to onComment.
type sseStream struct {
	events chan sseEvent
}

func openSSE(ctx context.Context, client *http.Client, base, token string, onComment func(time.Time)) (*sseStream, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("stream: status %d", resp.StatusCode)
	}
	s := &sseStream{events: make(chan sseEvent, 256)}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 1024)
		var ev sseEvent
		var data []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if len(data) > 0 {
					ev.Data, ev.At = []byte(strings.Join(data, "\n")), time.Now()
					select {
					case s.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev, data = sseEvent{}, data[:0]
			case strings.HasPrefix(line, ":"):
				if onComment != nil {
					onComment(time.Now())
				}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	return s, nil
}

// sseClient keeps one connection per stream (streams never end on their own).
var sseClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}}

// sseLatency measures P2: from the API's 201 to the task.created event
// parsed (JSON included) by an EventSource-style client, at a fixed rate.
func (b *bench) sseLatency(ctx context.Context) error {
	const users = 100 // each stream gets rate/users events per second, under its 10/s limit
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i], _ = auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("sse-user-%d", i), auth.MintOptions{TTL: time.Hour})
	}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	notifierURL := b.stack.App("notifier").URL
	for _, tok := range tokens {
		s, err := openSSE(streamCtx, sseClient, notifierURL, tok, nil)
		if err != nil {
			return err
		}
		go func() {
			for ev := range s.events {
				var data struct {
					TaskID string `json:"task_id"`
					Type   string `json:"event_type"`
				}
				if json.Unmarshal(ev.Data, &data) == nil && data.Type == "task.created" {
					mu.Lock()
					arrived[data.TaskID] = ev.At
					mu.Unlock()
				}
			}
		}()
	}
	create := func(i int) (string, time.Time, error) {
		id, err := b.postToken(ctx, tokens[i%users], map[string]any{"title": fmt.Sprintf("sse %d", i)})
		return id, time.Now(), err
	}
	// The notifier's consumer group starts at the newest offset once it
	// has joined: wait until events come through.
	if err := waitUntil(ctx, time.Minute, func() (bool, error) {
		id, _, err := create(0)
		if err != nil {
			return false, err
		}
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		_, ok := arrived[id]
		return ok, nil
	}); err != nil {
		return fmt.Errorf("no event reached a stream: %w", err)
	}

	rate := b.o.sseRate
	sent := map[string]time.Time{}
	var smu sync.Mutex
	var stages func() string
	jobs := make(chan int, rate)
	var wg sync.WaitGroup
	var failed, skipped atomic.Int64
	warm := int(b.o.warmup.Seconds() * float64(rate))
	for range 128 {
		wg.Go(func() {
			for i := range jobs {
				id, at, err := create(i)
				if i <= warm {
					continue
				}
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
	// Pace by the clock: at any moment, rate × elapsed creates are due (a
	// ticker at 2 ms drops ticks on a busy machine). The first o.warmup of
	// them are not measured (connection pools fill, batches settle).
	begin := time.Now()
	for i := 1; ctx.Err() == nil; {
		elapsed := time.Since(begin)
		if elapsed >= b.o.warmup+b.o.duration {
			break
		}
		for due := int(elapsed.Seconds()*float64(rate)) + 1; i <= due; i++ {
			select {
			case jobs <- i:
			default:
				skipped.Add(1) // the stack is not keeping up with this rate
			}
		}
		if stages == nil && elapsed >= b.o.warmup {
			stages = b.stageMeter()
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	var lat []time.Duration
	_ = waitUntil(ctx, 15*time.Second, func() (bool, error) {
		lat = lat[:0]
		mu.Lock()
		defer mu.Unlock()
		for id, at := range sent {
			if got, ok := arrived[id]; ok {
				lat = append(lat, max(0, got.Sub(at)))
			}
		}
		return len(lat) == len(sent), nil
	})
	slices.Sort(lat)
	if len(lat) == 0 {
		return errors.New("no event arrived")
	}
	missing := len(sent) - len(lat)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	offered := float64(len(sent)) / b.o.duration.Seconds()
	fmt.Printf("   %d events at %.0f/s: p50 %v, p99 %v, %d never arrived, %d creates failed, %d not sent (stack behind)\n",
		len(lat), offered, p50, p99, missing, failed.Load(), skipped.Load())
	fmt.Printf("   means over the phase: %s\n", stages())
	bareP99, _ := b.report.ref("actor_p99_ms")
	b.report.add(row{ID: "P2", Figure: fmt.Sprintf("API 201 → task.created parsed by an EventSource-style client, %d creates/s offered", rate),
		Target:    "p99 < 50 ms at 500 events/s",
		Measured:  fmt.Sprintf("%.0f events/s: p50 %v, p99 %v; %d missing", offered, p50, p99, missing+int(failed.Load())),
		Reference: fmt.Sprintf("bare actor call p99 %.1f ms", bareP99), Ratio: fmt.Sprintf("%.1f×", ms(p99)/bareP99),
		Met:    boolp(p99 < 50*time.Millisecond && missing == 0 && failed.Load() == 0 && skipped.Load() == 0 && rate >= 500),
		Values: map[string]float64{"rate": offered, "p50_ms": ms(p50), "p99_ms": ms(p99), "missing": float64(missing)}})
	return nil
}

// holdStreams measures P6: how many streams one notifier holds, the
// resident memory each costs, and whether heartbeats keep their interval.
// 20,000 streams over HTTP/1.1 need 20,000 sockets in the notifier and as
// many here, more than a process may open on machines whose hard limit is
// 20,000 files (and no CAP_SYS_RESOURCE to raise it): they go over HTTP/2
// (h2c, as from an ingress with an HTTP/2 upstream), many streams a
// connection. HTTP/1.1 is measured as well, with as many streams as the
// limit allows.
func (b *bench) holdStreams(ctx context.Context) error {
	if b.o.streamsHTTP1 > 0 {
		if err := b.hold(ctx, "P6/1.1", "HTTP/1.1, one socket each", b.o.streamsHTTP1, sseClient, false); err != nil {
			return err
		}
	}
	h2c := &http.Transport{DisableCompression: true}
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	return b.hold(ctx, "P6", "HTTP/2 (h2c), many streams a connection", b.o.streams, &http.Client{Transport: h2c}, true)
}

func (b *bench) hold(ctx context.Context, id, proto string, n int, client *http.Client, target bool) error {
	// A fresh notifier: what earlier phases left in its heap is not counted.
	if err := b.stack.StartApp(ctx, "notifier", nil); err != nil {
		return fmt.Errorf("restart the notifier: %w", err)
	}
	notifier := b.stack.App("notifier").URL
	rss := func() float64 { return metric(notifier+"/metrics", "process_resident_memory_bytes") }
	before := rss()
	holdCtx, release := context.WithCancel(ctx)
	defer release()
	var opened atomic.Int64
	var openErr atomic.Value
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	// Heartbeat gaps: per stream, the time between consecutive comments.
	type beats struct {
		mu   sync.Mutex
		last []time.Time
		gaps []time.Duration
	}
	hb := beats{last: make([]time.Time, n)}
	openStart := time.Now()
	for range 64 {
		wg.Go(func() {
			for i := range next {
				tok, _ := auth.Mint([]byte(auth.DevSecret), fmt.Sprintf("hold-%d", i), auth.MintOptions{TTL: time.Hour})
				s, err := openSSE(holdCtx, client, notifier, tok, func(at time.Time) {
					hb.mu.Lock()
					if !hb.last[i].IsZero() {
						hb.gaps = append(hb.gaps, at.Sub(hb.last[i]))
					}
					hb.last[i] = at
					hb.mu.Unlock()
				})
				if err != nil {
					openErr.Store(err)
					return
				}
				go func() {
					for range s.events { // none expected: nobody writes for these users
					}
				}()
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	openTook := time.Since(openStart)
	// Hold them for two heartbeat intervals and a half, then read memory.
	select {
	case <-time.After(b.o.heartbeat*5/2 + time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	held := metric(notifier+"/metrics", "taskflow_notifier_streams")
	after := rss()
	stacks, heap := metric(notifier+"/metrics", "go_memstats_stack_inuse_bytes"), metric(notifier+"/metrics", "go_memstats_heap_inuse_bytes")
	fmt.Printf("   notifier with the streams open: goroutine stacks %.1f KiB and heap in use %.1f KiB per stream\n",
		stacks/1024/max(1, held), heap/1024/max(1, held))
	hb.mu.Lock()
	gaps := slices.Clone(hb.gaps)
	hb.mu.Unlock()
	release()
	slices.Sort(gaps)
	perStream := (after - before) / 1024 / max(1, held)
	var p99, worst time.Duration
	if len(gaps) > 0 {
		p99, worst = percentile(gaps, 99), gaps[len(gaps)-1].Round(time.Millisecond)
	}
	onTime := len(gaps) > 0 && worst <= b.o.heartbeat+2*time.Second
	fmt.Printf("   %s: %d streams opened in %v, %.0f held; resident memory %.0f MiB -> %.0f MiB: %.1f KiB per stream; %d heartbeat gaps, p99 %v, max %v (interval %v)\n",
		proto, opened.Load(), openTook.Round(time.Millisecond), held, before/(1<<20), after/(1<<20), perStream, len(gaps), p99, worst, b.o.heartbeat)
	if err, _ := openErr.Load().(error); err != nil {
		fmt.Printf("   (opening stopped at %d: %v)\n", opened.Load(), err)
	}
	x := row{ID: id, Figure: "SSE streams held open by one notifier, " + proto,
		Measured: fmt.Sprintf("%s held, %.1f KiB per stream; heartbeat gaps p99 %v, max %v (interval %v)",
			commas(held), perStream, p99, worst, b.o.heartbeat),
		Values: map[string]float64{"streams": held, "kib_per_stream": perStream, "heartbeat_max_gap_ms": ms(worst)}}
	if target {
		x.Target, x.Met = "20,000 streams, ≤ 16 KiB of notifier RSS per stream, heartbeats on time", boolp(held >= 20000 && perStream <= 16 && onTime)
	}
	b.report.add(x)
	// Let the notifier close them before the next phase.
	_ = waitUntil(ctx, time.Minute, func() (bool, error) {
		return metric(notifier+"/metrics", "taskflow_notifier_streams") == 0, nil
	})
	return nil
}

// stageMeter snapshots the stages' histograms now and returns a function
// that reports their means since.
func (b *bench) stageMeter() func() string {
	actors, notifier := b.stack.App("actors").URL+"/metrics", b.stack.App("notifier").URL+"/metrics"
	type h struct{ url, name, label string }
	hs := []h{
		{actors, "taskflow_outbox_lag_seconds", "commit → published"},
		{actors, "taskflow_outbox_publish_seconds", "one publish call"},
		{actors, "taskflow_outbox_batch_size", "events per publish"},
		{notifier, "taskflow_notifier_event_lag_seconds", "change → notifier queued it"},
	}
	read := func() []float64 {
		out := make([]float64, 2*len(hs))
		for i, x := range hs {
			out[2*i], out[2*i+1] = metric(x.url, x.name+"_sum"), metric(x.url, x.name+"_count")
		}
		return out
	}
	before := read()
	return func() string {
		after := read()
		var parts []string
		for i, x := range hs {
			n := after[2*i+1] - before[2*i+1]
			if n <= 0 {
				continue
			}
			mean := (after[2*i] - before[2*i]) / n
			if strings.HasSuffix(x.name, "_seconds") {
				parts = append(parts, fmt.Sprintf("%s %.1f ms", x.label, mean*1000))
			} else {
				parts = append(parts, fmt.Sprintf("%s %.1f", x.label, mean))
			}
		}
		return strings.Join(parts, ", ")
	}
}
