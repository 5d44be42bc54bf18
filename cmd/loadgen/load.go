package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is what a closed-loop phase measured.
type result struct {
	ok, errors int
	all        int64 // successful calls, warm-up included
	rate       float64
	p50, p99   time.Duration
	firstErr   error
}

func (r result) String() string {
	return fmt.Sprintf("%s/s, p50 %v, p99 %v", commas(r.rate), r.p50, r.p99)
}

// measure runs call from o.clients goroutines, each calling again as soon
// as its call returns (a closed loop): o.warmup unmeasured, then
// o.duration measured.
func measure(ctx context.Context, o options, call func(ctx context.Context, i int64) error) result {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       result
		measuring atomic.Bool
		seq, all  atomic.Int64
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
				err := call(ctx, seq.Add(1))
				d := time.Since(start)
				if err == nil {
					all.Add(1)
				}
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
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
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
	res.ok, res.all = len(latencies), all.Load()
	res.rate = float64(res.ok) / elapsed.Seconds()
	res.p50, res.p99 = percentile(latencies, 50), percentile(latencies, 99)
	return res
}

// percentile of sorted durations, rounded to 0.1 ms.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(100 * time.Microsecond)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// post creates a task as load user i and returns its id.
func (b *bench) post(ctx context.Context, i int64, body map[string]any) (string, error) {
	return b.postToken(ctx, b.tokens[i%int64(len(b.tokens))], body)
}

// postToken creates a task with token and returns its id.
func (b *bench) postToken(ctx context.Context, token string, body map[string]any) (string, error) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", b.apiURL, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := b.httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create: status %d: %.200s", resp.StatusCode, raw)
	}
	var t struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.ID == "" {
		return "", fmt.Errorf("create: undecodable answer: %.200s", raw)
	}
	return t.ID, nil
}

// metric reads one sample of a Prometheus text exposition.
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

// waitUntil polls cond every 50 ms until it holds or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not reached within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
