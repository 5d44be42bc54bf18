package notifier

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/task"
)

// BenchmarkSlowClients measures what fast clients see while others read
// slowly: 100 streams over real HTTP, each round an event for every user,
// and the p99 from handing the batch to the notifier to a fast client
// reading its event. "reference" has no slow clients; "10pct-slow" makes
// ten of them read one byte a second. Run with
//
//	go test -run '^$' -bench BenchmarkSlowClients -benchtime 200x ./notifier
//
// and compare the two fast_p99_ms figures (the ratio is what matters).
func BenchmarkSlowClients(b *testing.B) {
	for _, slow := range []int{0, 10} {
		name := "reference"
		if slow > 0 {
			name = "10pct-slow"
		}
		b.Run(name, func(b *testing.B) { benchSlowClients(b, 100, slow) })
	}
}

func benchSlowClients(b *testing.B, streams, slow int) {
	n, _ := newNotifier(b, Config{QueueBound: 64, Rate: 100000})
	srv := httptest.NewServer(n)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
		srv.Close()
	}()
	type arrival struct {
		user string
		at   time.Time
	}
	arrivals := make(chan arrival, streams*4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	users := make([]string, streams)
	for i := range users {
		users[i] = fmt.Sprintf("u%03d", i)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/notifications/stream", nil)
		req.Header.Set("Authorization", "Bearer "+users[i])
		resp, err := srv.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("stream %d: %v", i, err)
		}
		wg.Add(1)
		if i < slow {
			go func() { // one byte a second
				defer wg.Done()
				defer resp.Body.Close()
				buf := make([]byte, 1)
				for ctx.Err() == nil {
					if _, err := resp.Body.Read(buf); err != nil {
						return
					}
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}()
			continue
		}
		user := users[i]
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: task.updated") {
					select {
					case arrivals <- arrival{user, time.Now()}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	payload := strings.Repeat("x", 2048)
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		batch := make([]subscribe.Message, 0, streams)
		for _, u := range users {
			batch = append(batch, msg(u, task.EventUpdated, payload))
		}
		sent := time.Now()
		n.Handle(context.Background(), batch)
		for range streams - slow {
			select {
			case a := <-arrivals:
				lat = append(lat, a.at.Sub(sent))
			case <-time.After(10 * time.Second):
				b.Fatal("a fast client's event never arrived")
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	b.ReportMetric(float64(p99.Microseconds())/1000, "fast_p99_ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "fast_p50_ms")
	cancel()
	srv.CloseClientConnections()
	wg.Wait()
}
