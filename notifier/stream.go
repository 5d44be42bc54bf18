package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/postgres"
)

// CookieName is the HttpOnly cookie a stream may authenticate with (see
// SessionHandler).
const CookieName = "taskflow_token"

// seenLimit is how many recent event ids a stream remembers to drop
// repeats (replay overlapping live events, redeliveries).
const seenLimit = 1024

// stream is one open SSE connection. The hub pushes into its queue under
// the Notifier's lock; only the stream's own goroutine writes to the wire.
type stream struct {
	user    string
	expires time.Time     // the token's exp: the stream ends then (zero: never)
	wake    chan struct{} // capacity 1: "the queue changed"

	mu       sync.Mutex
	queue    []postgres.Notification
	bound    int                    // the most notifications queued
	maxBytes int                    // the most event data queued, in bytes
	bytes    int                    // event data queued now
	resync   bool                   // the backlog overflowed: send one resync before what follows
	seen     map[uuid.UUID]struct{} // made by the first event: most streams idle
	order    []uuid.UUID
}

func newStream(user string, bound, maxBytes int) *stream {
	return &stream{user: user, wake: make(chan struct{}, 1), bound: bound, maxBytes: maxBytes}
}

// push queues nt unless the stream already had it; it reports whether the
// backlog overflowed (and collapsed into a resync): by count or by bytes,
// so a few large events hold no more memory than the bound allows. It
// never blocks.
func (s *stream) push(nt postgres.Notification) (overflow bool) {
	s.mu.Lock()
	if s.remember(nt.EventID) {
		size := len(nt.Data)
		if len(s.queue) >= s.bound || s.bytes+size > s.maxBytes {
			s.collapse()
			overflow = true
		}
		if size <= s.maxBytes { // else the resync stands for it too
			s.queue = append(s.queue, nt)
			s.bytes += size
		}
	}
	s.mu.Unlock()
	s.signal()
	return overflow
}

// signal wakes the stream's goroutine, or leaves it a token if it is busy.
func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// remember records id and reports whether it is new.
func (s *stream) remember(id uuid.UUID) bool {
	if _, ok := s.seen[id]; ok {
		return false
	}
	if s.seen == nil {
		s.seen = map[uuid.UUID]struct{}{}
	}
	s.seen[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > seenLimit {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
	}
	return true
}

// next pops what to send: a resync first if the backlog overflowed.
func (s *stream) next() (nt postgres.Notification, resync, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resync {
		s.resync = false
		return postgres.Notification{}, true, true
	}
	if len(s.queue) == 0 {
		return postgres.Notification{}, false, false
	}
	nt = s.queue[0]
	s.queue[0] = postgres.Notification{} // the backing array must not keep its data alive
	s.queue = s.queue[1:]
	s.bytes -= len(nt.Data)
	return nt, false, true
}

// collapse drops the queue for one resync. s.mu must be held.
func (s *stream) collapse() {
	clear(s.queue) // release the dropped events' data
	s.queue, s.bytes, s.resync = s.queue[:0], 0, true
}

func (s *stream) markResync() {
	s.mu.Lock()
	s.collapse()
	s.mu.Unlock()
}

// token finds the caller's JWT: Authorization header, then the cookie,
// then the access_token query parameter (browsers' EventSource cannot set
// headers). The query parameter is never logged.
func token(r *http.Request) (string, bool) {
	if tok, ok := auth.BearerToken(r.Header.Get("Authorization")); ok {
		return tok, true
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, true
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		return tok, true
	}
	return "", false
}

// problem writes an RFC 9457 problem document (streams fail before any
// event is written, so this is a plain JSON answer).
func problem(w http.ResponseWriter, status int, slug, title, detail, field string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]any{"type": "https://taskflow.dev/problems/" + slug, "title": title, "status": status, "detail": detail}
	if field != "" {
		body["errors"] = []map[string]string{{"field": field, "message": detail}}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// ServeHTTP serves GET /api/v1/notifications/stream. An open stream parks
// this goroutine for as long as it lasts, hours often, with its stack; the
// runtime halves a stack only while less than a quarter of it is in use.
// So the deep work of opening a stream (Config.Opening's middleware,
// parsing the JWT, the replay query) runs on a goroutine of its own that
// ends once the stream is open, and the stream parks right here, in as few
// frames as it can: its stack then stays at 4 KiB, or returns to it after
// a write needed more, where it would otherwise stay at 8 KiB for good (a
// third of what an idle stream costs, measured with loadgen's streams
// phase).
func (n *Notifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	slot := &opening{base: r.Context()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { slot.panicked = recover() }() // net/http recovers a handler's panics, not this goroutine's
		n.opener.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), openingKey{}, slot)))
	}()
	<-done
	if slot.panicked != nil {
		panic(slot.panicked)
	}
	sc := slot.sc
	if sc == nil {
		return
	}
	defer n.hangUp(sc)
	n.run(sc) // as serve
}

// opening carries a stream from the goroutine that opens it to ServeHTTP.
type opening struct {
	base     context.Context // the request's own, without what the middleware added
	sc       *streamConn     // nil: refused, and answered
	panicked any
}

type openingKey struct{}

// openFromContext is the handler Config.Opening wraps: it admits the
// request and starts its stream, or answers it with a problem.
func (n *Notifier) openFromContext(w http.ResponseWriter, r *http.Request) {
	slot := r.Context().Value(openingKey{}).(*opening)
	s, last, ok := n.admit(w, r)
	if !ok {
		return
	}
	out, done, ok := n.start(w, r, slot.base, s, last)
	if !ok {
		n.unregister(s)
		return
	}
	slot.sc = n.attach(done, s, out)
}

// hangUp ends a stream ServeHTTP served.
func (n *Notifier) hangUp(sc *streamConn) {
	sc.timer.Stop()
	sc.out.close()
	n.unregister(sc.s)
}

// admit authenticates the request and registers its stream, or answers
// with a problem document.
func (n *Notifier) admit(w http.ResponseWriter, r *http.Request) (*stream, *uuid.UUID, bool) {
	raw, ok := token(r)
	if !ok {
		n.m.rejected.WithLabelValues("auth").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="taskflow"`)
		problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"send Authorization: Bearer <token>, the "+CookieName+" cookie, or ?access_token=", "Authorization")
		return nil, nil, false
	}
	claims, err := n.verifier.Verify(r.Context(), raw)
	if err != nil {
		n.m.rejected.WithLabelValues("auth").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="taskflow", error="invalid_token"`)
		problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", err.Error(), "Authorization")
		return nil, nil, false
	}
	last, err := parseLastEventID(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last_event_id"))
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid-parameter", "Invalid request parameter",
			"Last-Event-ID must be an event id from this stream", "Last-Event-ID")
		return nil, nil, false
	}
	s := newStream(claims.UserID, n.cfg.QueueBound, n.cfg.QueueBytes)
	s.expires = claims.ExpiresAt
	switch err := n.register(s); {
	case errors.Is(err, ErrTooManyStreams):
		n.m.rejected.WithLabelValues("limit").Inc()
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusTooManyRequests, "too-many-streams", "Too many streams",
			fmt.Sprintf("you already have %d notification streams open; close one (another tab or device) first", n.cfg.MaxStreamsPerUser), "")
		return nil, nil, false
	case errors.Is(err, ErrAtCapacity):
		n.m.rejected.WithLabelValues("capacity").Inc()
		w.Header().Set("Retry-After", "10")
		problem(w, http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"this instance serves as many notification streams as it may; retry later (another instance may take it)", "")
		return nil, nil, false
	case errors.Is(err, ErrShuttingDown):
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "unavailable", "Service unavailable", "this instance is shutting down; reconnect", "")
		return nil, nil, false
	}
	return s, last, true
}

// start opens the response, sends the retry hint and queues what the
// client missed after last. The stream's context derives from base.
func (n *Notifier) start(w http.ResponseWriter, r *http.Request, base context.Context, s *stream, last *uuid.UUID) (wire, context.Context, bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store, no-transform")
	h.Set("X-Accel-Buffering", "no")
	out, done, err := n.open(w, r, base)
	if err != nil {
		n.log.DebugContext(r.Context(), "opening a stream failed", "error", err)
		return wire{}, nil, false
	}
	if err := out.write("retry: ", strconv.FormatInt(n.cfg.RetryHint.Milliseconds(), 10), "\n\n"); err != nil {
		out.close()
		return wire{}, nil, false
	}
	if last != nil {
		n.replay(r.Context(), s, *last)
	}
	return out, done, true
}

// wire is where a stream's bytes go.
type wire struct {
	write func(parts ...string) error
	close func()
}

// open starts the response and returns how to write it and a context done
// when the client goes. An HTTP/1.1 connection is taken over from net/http
// (hijacked) and written directly: net/http would otherwise hold two 4 KiB
// buffers and a second goroutine per stream for as long as it is open,
// which is most of what an idle stream costs. The response then has no
// chunked framing and ends when the connection closes, as HTTP/1.1 allows.
// HTTP/2 streams (which share connections) go through net/http.
func (n *Notifier) open(w http.ResponseWriter, r *http.Request, base context.Context) (wire, context.Context, error) {
	hj, ok := w.(http.Hijacker)
	if !ok || r.ProtoMajor != 1 {
		return n.openBuffered(w, base)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return wire{}, nil, err
	}
	var head strings.Builder
	head.WriteString("HTTP/1.1 200 OK\r\n")
	w.Header().Set("Connection", "close")
	if err := w.Header().Write(&head); err != nil {
		conn.Close()
		return wire{}, nil, err
	}
	head.WriteString("\r\n")
	// The client sends nothing after its request: a read returns when it
	// closes the connection (or sends garbage), which ends the stream.
	ctx, cancel := context.WithCancel(context.WithoutCancel(base))
	if rw.Reader.Buffered() > 0 { // pipelined bytes after a GET: not an EventSource
		cancel()
	}
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:])
		cancel()
	}()
	write := func(parts ...string) error {
		if err := conn.SetWriteDeadline(time.Now().Add(n.cfg.WriteTimeout)); err != nil {
			return err
		}
		_, err := conn.Write([]byte(strings.Join(parts, "")))
		return err
	}
	if err := write(head.String()); err != nil {
		cancel()
		conn.Close()
		return wire{}, nil, err
	}
	return wire{write: write, close: func() { cancel(); conn.Close() }}, ctx, nil
}

// openBuffered streams through net/http's response writer, flushing after
// every write.
func (n *Notifier) openBuffered(w http.ResponseWriter, ctx context.Context) (wire, context.Context, error) {
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	write := func(parts ...string) error {
		// The deadline guards this write only: on HTTP/2 an expired deadline
		// resets the stream even while nothing is being written.
		if err := rc.SetWriteDeadline(time.Now().Add(n.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
		for _, p := range parts {
			if _, err := io.WriteString(w, p); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	return wire{write: write, close: func() {}}, ctx, nil
}

// replay queues what the user missed after last, ahead of live events
// (which the stream already receives). A resync tells the browser to
// refetch when last is unknown (too old) or too much was missed.
func (n *Notifier) replay(ctx context.Context, s *stream, last uuid.UUID) {
	notes, err := n.store.After(ctx, s.user, last, n.cfg.ReplayMargin, n.cfg.ReplayLimit)
	if err != nil || len(notes) > n.cfg.ReplayLimit {
		if err != nil && !errors.Is(err, postgres.ErrUnknownEvent) {
			n.log.WarnContext(ctx, "replay failed; asking the client to resync", "error", err)
		}
		s.markResync()
		return
	}
	// Ahead of the live events queued meanwhile, under one lock so that no
	// live event slips in between; repeats of live events are skipped.
	s.mu.Lock()
	missed := make([]postgres.Notification, 0, len(notes))
	for _, nt := range notes {
		if s.remember(nt.EventID) {
			missed = append(missed, nt)
		}
	}
	s.queue = append(missed, s.queue...)
	for _, nt := range missed {
		s.bytes += len(nt.Data)
	}
	if len(s.queue) > s.bound || s.bytes > s.maxBytes {
		s.collapse()
		n.m.dropped.WithLabelValues("backlog").Inc()
	}
	s.mu.Unlock()
	n.m.replayed.Add(float64(len(missed)))
	s.signal()
}

// reauth is the last event of a stream whose token expired.
const reauth = "event: reauth\ndata: {\"reason\":\"token_expired\"}\n\n"

// serve writes the stream until the client goes, the notifier shuts down,
// the token expires (a final "reauth" event: the client reconnects with a
// fresh token, resuming after the last event it got), or a write fails (a
// client too slow to take it is dropped).
func (n *Notifier) serve(ctx context.Context, s *stream, write func(...string) error) {
	sc := n.attach(ctx, s, wire{write: write, close: func() {}})
	defer sc.timer.Stop()
	n.run(sc)
}

// run is serve's loop. New events, the timer (heartbeat, token expiry,
// rate limit) and the shutdown all signal the stream's wake channel; step
// does what is due.
func (n *Notifier) run(sc *streamConn) {
	for n.step(sc) {
		select {
		case <-sc.s.wake:
		case <-sc.gone:
		}
	}
}

// streamConn is an open stream: its queue, where it is written, and what
// serves it between wake-ups.
type streamConn struct {
	s     *stream
	ctx   context.Context // done when the client goes
	gone  <-chan struct{} // ctx.Done()
	out   wire
	lim   *rate.Limiter
	beat  time.Time   // the next heartbeat
	timer *time.Timer // signals the stream at the next thing due
}

func (n *Notifier) attach(ctx context.Context, s *stream, out wire) *streamConn {
	return &streamConn{s: s, ctx: ctx, gone: ctx.Done(), out: out,
		lim:  rate.NewLimiter(rate.Limit(n.cfg.Rate), max(1, int(n.cfg.Rate))),
		beat: time.Now().Add(n.cfg.Heartbeat), timer: time.AfterFunc(n.cfg.Heartbeat, s.signal)}
}

// step sends what is due (queued events, a heartbeat, a final event) and
// sets the timer for the next thing that will be; false ends the stream.
func (n *Notifier) step(sc *streamConn) bool {
	s, write := sc.s, sc.out.write
	if sc.ctx.Err() != nil {
		return false
	}
	select {
	case <-n.shutdown:
		// Reconnect at once: another instance takes the stream, and
		// Last-Event-ID resumes it there.
		_ = write("event: shutdown\ndata: {\"reconnect\":true}\nretry: 250\n\n")
		return false
	default:
	}
	throttled, ok := n.flush(s, sc.lim, write)
	if !ok {
		return false
	}
	now := time.Now()
	if !s.expires.IsZero() && !now.Before(s.expires) {
		_ = write(reauth)
		n.m.delivered.WithLabelValues("reauth").Inc()
		return false
	}
	if !now.Before(sc.beat) {
		if err := write(": heartbeat\n\n"); err != nil {
			n.m.dropped.WithLabelValues("slow").Inc()
			return false
		}
		// On schedule, as a ticker would be; a stream that fell far behind
		// (a stalled machine) beats once and starts over.
		if sc.beat = sc.beat.Add(n.cfg.Heartbeat); !sc.beat.After(now) {
			sc.beat = now.Add(n.cfg.Heartbeat)
		}
	}
	wake := sc.beat
	if !s.expires.IsZero() && s.expires.Before(wake) {
		wake = s.expires
	}
	if throttled > 0 && now.Add(throttled).Before(wake) {
		wake = now.Add(throttled)
	}
	sc.timer.Reset(wake.Sub(now))
	return true
}

// flush sends what is queued, as fast as the rate allows, while the token
// is valid. It reports how long until the rate allows the next event, if
// one is waiting, and false when a write failed.
func (n *Notifier) flush(s *stream, lim *rate.Limiter, write func(...string) error) (throttled time.Duration, ok bool) {
	for s.expires.IsZero() || time.Now().Before(s.expires) {
		r := lim.Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			s.mu.Lock()
			pending := len(s.queue) > 0 || s.resync
			s.mu.Unlock()
			if pending {
				return d, true
			}
			return 0, true
		}
		nt, resync, ok := s.next()
		if !ok {
			r.Cancel()
			return 0, true
		}
		var err error
		if resync {
			err = write("event: resync\ndata: {\"reason\":\"backlog\"}\n\n")
			n.m.delivered.WithLabelValues("resync").Inc()
		} else {
			err = write("id: ", nt.EventID.String(), "\nevent: ", nt.Type, "\ndata: ", string(nt.Data), "\n\n")
			n.m.delivered.WithLabelValues(nt.Type).Inc()
		}
		if err != nil {
			n.m.dropped.WithLabelValues("slow").Inc()
			return 0, false
		}
	}
	return 0, true
}

// SessionHandler answers POST /api/v1/notifications/session: it puts the
// bearer token into an HttpOnly cookie scoped to the notification paths,
// so that a same-origin page can open the stream without exposing the
// token to scripts or URLs.
func (n *Notifier) SessionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := auth.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", "send Authorization: Bearer <token>", "Authorization")
			return
		}
		claims, err := n.verifier.Verify(r.Context(), raw)
		if err != nil {
			problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", err.Error(), "Authorization")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: raw, Path: "/api/v1/notifications", Expires: claims.ExpiresAt,
			HttpOnly: true, Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
			SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
