package notifier

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// memStore keeps notifications in order of arrival.
type memStore struct {
	mu    sync.Mutex
	notes []postgres.Notification
	fail  bool
}

func (m *memStore) Save(_ context.Context, batch []postgres.Notification) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("database down")
	}
	for _, nt := range batch {
		if !slices.ContainsFunc(m.notes, func(o postgres.Notification) bool { return o.EventID == nt.EventID }) {
			m.notes = append(m.notes, nt)
		}
	}
	return nil
}

func (m *memStore) After(_ context.Context, user string, last uuid.UUID, _ time.Duration, limit int) ([]postgres.Notification, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.notes, func(n postgres.Notification) bool { return n.EventID == last && n.UserID == user })
	if i < 0 {
		return nil, postgres.ErrUnknownEvent
	}
	var out []postgres.Notification
	for _, n := range m.notes[i+1:] {
		if n.UserID == user && len(out) <= limit {
			out = append(out, n)
		}
	}
	return out, nil
}

func (m *memStore) Purge(context.Context, time.Time) (int64, error) { return 0, nil }

// tokens are user ids, valid for an hour or, as "user~2s", for the
// duration after the tilde; "bad" is refused.
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, raw string) (auth.Claims, error) {
	if raw == "bad" {
		return auth.Claims{}, fmt.Errorf("%w: token expired", auth.ErrInvalidToken)
	}
	ttl := time.Hour
	if user, d, ok := strings.Cut(raw, "~"); ok {
		var err error
		if ttl, err = time.ParseDuration(d); err != nil {
			return auth.Claims{}, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
		}
		raw = user
	}
	return auth.Claims{UserID: raw, ExpiresAt: time.Now().Add(ttl)}, nil
}

// deadLetters records what is dead-lettered; fail makes it refuse.
type deadLetters struct {
	mu   sync.Mutex
	got  []auditor.DeadLetter
	fail bool
}

func (d *deadLetters) DeadLetter(_ context.Context, dl auditor.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return errors.New("publish to task-events-dlq: 500 Internal Server Error")
	}
	d.got = append(d.got, dl)
	return nil
}

func newNotifier(t testing.TB, cfg Config) (*Notifier, *memStore) {
	t.Helper()
	store := &memStore{}
	n, err := New(cfg, store, fakeVerifier{}, &deadLetters{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return n, store
}

func msg(user string, typ task.EventType, title string) subscribe.Message {
	id := uuid.Must(uuid.NewV7())
	return subscribe.Message{
		Event: task.Event{EventID: id, EventType: typ, TaskID: uuid.New(), UserID: user, OccurredAt: time.Now()},
		Data:  []byte(fmt.Sprintf(`{"event_id":%q,"title":%q}`, id, title)),
	}
}

type sse struct {
	id, event, data, retry string
}

// client reads SSE events from one stream.
type client struct {
	resp   *http.Response
	events chan sse
}

func connect(t *testing.T, srv *httptest.Server, user string, headers ...string) (*client, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/notifications/stream", nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		return nil, resp
	}
	c := &client{resp: resp, events: make(chan sse, 100)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sse{}) {
					c.events <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, ":"):
				c.events <- sse{event: "comment"}
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.event = v
				case "data":
					ev.data = v
				case "retry":
					ev.retry = v
				}
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return c, resp
}

func (c *client) next(t *testing.T) sse {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sse{}
}

func server(t *testing.T, n *Notifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(n)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// protoServer serves n over HTTP/1.1 and h2c; its client speaks proto
// ("HTTP/1.1" or "HTTP/2.0").
func protoServer(t *testing.T, n *Notifier, proto string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(n)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &protocols
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
		srv.Close()
	})
	if proto == "HTTP/2.0" {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		srv.Client().Transport = tr
	}
	return srv
}

func TestStreamDeliversOnlyTheUsersEvents(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{})
	srv := server(t, n)
	alice, resp := connect(t, srv, "alice")
	bob, _ := connect(t, srv, "bob")
	for k, v := range map[string]string{"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if ev := alice.next(t); ev.retry != "3000" {
		t.Fatalf("first line %+v, want a retry hint", ev)
	}
	bob.next(t)
	m1, m2 := msg("alice", task.EventCreated, "alice's"), msg("bob", task.EventUpdated, "bob's")
	if st := n.Handle(context.Background(), []subscribe.Message{m1, m2}); !slices.Equal(st, []subscribe.Status{subscribe.Success, subscribe.Success}) {
		t.Fatalf("statuses %v", st)
	}
	if ev := alice.next(t); ev.id != m1.Event.EventID.String() || ev.event != "task.created" || ev.data != string(m1.Data) {
		t.Fatalf("alice got %+v", ev)
	}
	// Bob's first event is his own: alice's never reached him.
	if ev := bob.next(t); ev.id != m2.Event.EventID.String() {
		t.Fatalf("bob got %+v", ev)
	}
}

func TestStreamAuthAndLimits(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{MaxStreamsPerUser: 3})
	srv := server(t, n)
	if _, resp := connect(t, srv, ""); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if _, resp := connect(t, srv, "bad"); resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	if _, resp := connect(t, srv, "carol", "Last-Event-ID", "not-an-id"); resp.StatusCode != 400 {
		t.Fatalf("bad Last-Event-ID: %d", resp.StatusCode)
	}
	for range 3 {
		if c, resp := connect(t, srv, "carol"); c == nil {
			t.Fatalf("stream refused: %d", resp.StatusCode)
		}
	}
	_, resp := connect(t, srv, "carol")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || !strings.Contains(string(body), "3 notification streams open") ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("4th stream: %d %s", resp.StatusCode, body)
	}
	// Tokens also come from the query string (EventSource cannot set headers).
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/notifications/stream?access_token=dave", nil)
	r, err := srv.Client().Do(req)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("query token: %v %v", r, err)
	}
	r.Body.Close()
}

func TestStreamResumesAfterLastEventID(t *testing.T) {
	t.Parallel()
	n, store := newNotifier(t, Config{})
	srv := server(t, n)
	var sent []subscribe.Message
	for i := range 5 {
		sent = append(sent, msg("erin", task.EventUpdated, fmt.Sprint(i)), msg("frank", task.EventUpdated, fmt.Sprint(i)))
	}
	n.Handle(context.Background(), sent)
	c, _ := connect(t, srv, "erin", "Last-Event-ID", sent[4].Event.EventID.String())
	c.next(t) // retry hint
	for _, want := range []int{6, 8} {
		if ev := c.next(t); ev.id != sent[want].Event.EventID.String() {
			t.Fatalf("replayed %+v, want %s", ev, sent[want].Event.EventID)
		}
	}
	live := msg("erin", task.EventCompleted, "live")
	n.Handle(context.Background(), []subscribe.Message{live, sent[8]}) // a redelivery is not repeated
	if ev := c.next(t); ev.id != live.Event.EventID.String() {
		t.Fatalf("live %+v", ev)
	}
	// An id that cannot be replayed (unknown, purged) asks for a resync.
	old, _ := connect(t, srv, "erin", "Last-Event-ID", uuid.NewString())
	old.next(t)
	if ev := old.next(t); ev.event != "resync" {
		t.Fatalf("unknown id: %+v", ev)
	}
	store.mu.Lock()
	n0 := len(store.notes)
	store.mu.Unlock()
	if n0 != 11 {
		t.Fatalf("stored %d notifications", n0)
	}
}

func TestStoreFailureRedelivers(t *testing.T) {
	t.Parallel()
	n, store := newNotifier(t, Config{})
	store.fail = true
	if st := n.Handle(context.Background(), []subscribe.Message{msg("u", task.EventCreated, "x")}); st[0] != subscribe.Retry {
		t.Fatalf("status %v, want RETRY", st)
	}
}

func TestShutdownEndsStreamsWithAFinalEvent(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{})
	srv := httptest.NewServer(n)
	defer srv.Close()
	c, _ := connect(t, srv, "gina")
	c.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Shutdown(ctx) }()
	if ev := c.next(t); ev.event != "shutdown" || ev.retry != "250" {
		t.Fatalf("final event %+v", ev)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, resp := connect(t, srv, "gina"); resp.StatusCode != 503 {
		t.Fatalf("after shutdown: %d", resp.StatusCode)
	}
}

// A stalled client neither blocks the fan-out nor delays other streams.
func TestSlowClientDelaysNoOne(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{QueueBound: 8, Rate: 1000})
	srv := server(t, n)
	// The stalled client never reads its socket.
	stalled, err := http.NewRequest("GET", srv.URL+"/api/v1/notifications/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	stalled.Header.Set("Authorization", "Bearer hank")
	resp, err := srv.Client().Do(stalled)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ok, _ := connect(t, srv, "ivy")
	ok.next(t)
	big := strings.Repeat("x", 32<<10)
	for i := range 200 {
		done := make(chan struct{})
		go func() {
			m := msg("hank", task.EventUpdated, big)
			n.Handle(context.Background(), []subscribe.Message{m})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("fan-out blocked on a slow client at event %d", i)
		}
	}
	m := msg("ivy", task.EventCreated, "prompt")
	n.Handle(context.Background(), []subscribe.Message{m})
	if ev := ok.next(t); ev.id != m.Event.EventID.String() {
		t.Fatalf("ivy got %+v", ev)
	}
}

// recorder is a stream's wire, inside a synctest bubble.
type recorder struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (r *recorder) write(parts ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.Join(parts, ""))
	r.at = append(r.at, time.Now())
	return nil
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func TestHeartbeatRateAndBacklog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n, _ := newNotifier(t, Config{Heartbeat: 30 * time.Second, Rate: 10, QueueBound: 50})
		s := newStream("jo", n.cfg.QueueBound, n.cfg.QueueBytes)
		if err := n.register(s); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { n.serve(ctx, s, rec.write); n.unregister(s) }()

		// Idle: one heartbeat every 30 s.
		time.Sleep(95 * time.Second)
		synctest.Wait()
		if got := rec.count(": heartbeat"); got != 3 {
			t.Fatalf("%d heartbeats in 95s, want 3", got)
		}
		// A burst of 40 is delayed, not dropped: 10 per second.
		var burst []subscribe.Message
		for i := range 40 {
			burst = append(burst, msg("jo", task.EventUpdated, fmt.Sprint(i)))
		}
		start := time.Now()
		n.Handle(context.Background(), burst)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.count("id: "); got < 10 || got > 21 {
			t.Fatalf("%d delivered within 1s, want about 10-20 (rate 10/s, burst 10)", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := rec.count("id: "); got != 40 {
			t.Fatalf("%d of the burst delivered after %v", got, time.Since(start))
		}
		// A backlog beyond the bound collapses into one resync, never silently lost.
		// 70 overflow the bound of 50 exactly once, whatever the stream sends
		// meanwhile (time stands still during Handle: at most a burst of 10);
		// a flood that could overflow it twice may see two resyncs, if the
		// stream took the first between the overflows.
		var flood []subscribe.Message
		for i := range 70 {
			flood = append(flood, msg("jo", task.EventUpdated, fmt.Sprint(i)))
		}
		n.Handle(context.Background(), flood)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := rec.count("event: resync"); got != 1 {
			t.Fatalf("%d resyncs, want 1", got)
		}
		if got := rec.count("id: "); got >= 40+70 {
			t.Fatalf("all %d flood events delivered despite the bound", got)
		}
		cancel()
		synctest.Wait()
	})
}

// TestStreamOverHTTP1AndHTTP2 runs a stream over both protocols the
// notifier speaks: an HTTP/1.1 connection it takes over from net/http, and
// an HTTP/2 (h2c) stream sharing a connection. A stream that is quiet for
// longer than the write timeout stays open (heartbeats keep coming), events
// arrive, and a client that goes away frees its stream.
func TestStreamOverHTTP1AndHTTP2(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			n, _ := newNotifier(t, Config{Heartbeat: 300 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
			srv := protoServer(t, n, proto)
			c, resp := connect(t, srv, "alice")
			if resp.Proto != proto {
				t.Fatalf("spoke %s, want %s", resp.Proto, proto)
			}
			if ev := c.next(t); ev.retry == "" {
				t.Fatalf("first %+v", ev)
			}
			for range 3 { // 900 ms quiet but for heartbeats: nine write timeouts
				if ev := c.next(t); ev.event != "comment" {
					t.Fatalf("got %+v, want a heartbeat", ev)
				}
			}
			m := msg("alice", task.EventCreated, "still here")
			n.Handle(context.Background(), []subscribe.Message{m})
			for {
				ev := c.next(t)
				if ev.event == "comment" {
					continue
				}
				if ev.id != m.Event.EventID.String() || ev.event != "task.created" {
					t.Fatalf("got %+v", ev)
				}
				break
			}
			resp.Body.Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				n.mu.Lock()
				open := len(n.users["alice"])
				n.mu.Unlock()
				if open == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the stream outlived its client")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// A stream ends when its token expires: a final "reauth" event tells the
// client to come back with a token that is still valid.
func TestStreamEndsWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			n, _ := newNotifier(t, Config{})
			srv := protoServer(t, n, proto)
			opened := time.Now()
			c, resp := connect(t, srv, "kim~2s")
			if c == nil || resp.Proto != proto {
				t.Fatalf("stream: %d %s", resp.StatusCode, resp.Proto)
			}
			c.next(t) // the retry hint
			// Events keep coming while the token is valid.
			m := msg("kim", task.EventCreated, "in time")
			n.Handle(context.Background(), []subscribe.Message{m})
			if ev := c.next(t); ev.id != m.Event.EventID.String() {
				t.Fatalf("got %+v", ev)
			}
			ev := c.next(t)
			if ev.event != "reauth" || !strings.Contains(ev.data, `"reason":"token_expired"`) {
				t.Fatalf("got %+v, want a reauth event", ev)
			}
			if since := time.Since(opened); since < 1500*time.Millisecond {
				t.Fatalf("reauth after %s, before the token expired", since)
			}
			select {
			case ev, ok := <-c.events:
				if ok {
					t.Fatalf("after reauth: %+v, want the end of the stream", ev)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream stayed open after reauth")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				n.mu.Lock()
				open := len(n.users["kim"])
				n.mu.Unlock()
				if open == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the stream is still registered")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// Config.Opening wraps the opening of a stream only: its headers reach the
// client, and it has returned (a span it started has ended) while the
// stream stays open and delivers, over both protocols.
func TestOpeningMiddlewareWrapsOnlyTheOpening(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			returned := make(chan string, 1)
			n, _ := newNotifier(t, Config{Opening: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Opened-By", "middleware")
					h.ServeHTTP(w, r)
					returned <- r.Header.Get("Authorization")
				})
			}})
			srv := protoServer(t, n, proto)
			c, resp := connect(t, srv, "ann")
			if resp.Proto != proto || resp.Header.Get("X-Opened-By") != "middleware" {
				t.Fatalf("%s, X-Opened-By %q: want %s and the middleware's header", resp.Proto, resp.Header.Get("X-Opened-By"), proto)
			}
			select {
			case auth := <-returned:
				if auth != "Bearer ann" {
					t.Fatalf("the middleware saw Authorization %q", auth)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the middleware has not returned although the stream is open")
			}
			c.next(t) // the retry hint
			m := msg("ann", task.EventCreated, "after the opening")
			n.Handle(context.Background(), []subscribe.Message{m})
			if ev := c.next(t); ev.id != m.Event.EventID.String() {
				t.Fatalf("got %+v, want the event", ev)
			}
			// A refused request is the middleware's too, and frees nothing it did not take.
			if _, resp := connect(t, srv, ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Opened-By") != "middleware" {
				t.Fatalf("no token: %d, X-Opened-By %q", resp.StatusCode, resp.Header.Get("X-Opened-By"))
			}
			<-returned
			n.mu.Lock()
			total := n.total
			n.mu.Unlock()
			if total != 1 {
				t.Fatalf("%d streams registered, want 1", total)
			}
		})
	}
}

// A panic while a stream opens (it runs on a goroutine of its own) is the
// handler's, which net/http recovers: the process lives on, and so do
// other streams.
func TestPanicWhileOpeningIsTheHandlers(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{Opening: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer boom" {
				panic("opening failed")
			}
			h.ServeHTTP(w, r)
		})
	}})
	srv := server(t, n) // net/http logs the panic it recovers; go test shows it only if the test fails
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer boom")
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a panicking opening answered %d", resp.StatusCode)
	}
	c, resp := connect(t, srv, "cat")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the panic: %d", resp.StatusCode)
	}
	if ev := c.next(t); ev.retry == "" {
		t.Fatalf("first %+v", ev)
	}
}
