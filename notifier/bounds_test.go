package notifier

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

func note(size int) postgres.Notification {
	return postgres.Notification{EventID: uuid.New(), UserID: "u", Type: "task.updated", Data: []byte(strings.Repeat("x", size))}
}

// A backlog is bounded by its bytes as well as its count: large events
// collapse into a resync long before the count bound would.
func TestBacklogBoundedByBytes(t *testing.T) {
	t.Parallel()
	s := newStream("u", 256, 1000)
	for i := range 3 {
		if s.push(note(300)) {
			t.Fatalf("event %d (900 bytes queued) overflowed a 1000-byte bound", i)
		}
	}
	last := note(300)
	if !s.push(last) {
		t.Fatal("1200 bytes queued under a 1000-byte bound without a resync")
	}
	if _, resync, _ := s.next(); !resync {
		t.Fatal("the collapsed backlog did not start with a resync")
	}
	if nt, resync, ok := s.next(); !ok || resync || nt.EventID != last.EventID {
		t.Fatalf("after the resync: %v %v %v, want the event that overflowed", nt.EventID, resync, ok)
	}
	if _, _, ok := s.next(); ok || s.bytes != 0 {
		t.Fatalf("queue drained but %d bytes counted", s.bytes)
	}
	// One event larger than the whole bound is not kept: the resync stands for it.
	if !s.push(note(1001)) {
		t.Fatal("an event over the byte bound was queued")
	}
	if len(s.queue) != 0 || s.bytes != 0 || !s.resync {
		t.Fatalf("queue %d events, %d bytes, resync %v", len(s.queue), s.bytes, s.resync)
	}
}

// Through Handle, with the default bound of 1 MiB: a handful of large
// events cannot pile up on a stream that does not read.
func TestHandleCollapsesAByteHeavyBacklog(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{})
	if n.cfg.QueueBytes != 1<<20 {
		t.Fatalf("default QueueBytes %d, want 1 MiB", n.cfg.QueueBytes)
	}
	s := newStream("big", n.cfg.QueueBound, n.cfg.QueueBytes)
	if err := n.register(s); err != nil {
		t.Fatal(err)
	}
	defer n.unregister(s)
	for range 20 { // 20 × 100 KiB, far under the count bound of 256
		m := msg("big", task.EventUpdated, strings.Repeat("y", 100<<10))
		n.Handle(context.Background(), []subscribe.Message{m})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes > n.cfg.QueueBytes || !s.resync {
		t.Fatalf("%d bytes queued (bound %d), resync %v", s.bytes, n.cfg.QueueBytes, s.resync)
	}
}

// An instance serves at most MaxStreams streams of all users: one more is
// refused with 503 and Retry-After, and a stream that ends frees a place.
func TestMaxStreamsPerInstance(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Config{MaxStreams: 2})
	srv := server(t, n)
	alice, _ := connect(t, srv, "alice")
	if bob, resp := connect(t, srv, "bob"); alice == nil || bob == nil {
		t.Fatalf("streams under the cap refused: %d", resp.StatusCode)
	}
	if c, resp := connect(t, srv, "carol"); c != nil {
		t.Fatal("a third stream was served over a cap of 2")
	} else {
		resp.Body.Close()
	}
	_, resp := connect(t, srv, "carol")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), "retry later") {
		t.Fatalf("a stream over the cap: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	alice.resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, resp := connect(t, srv, "carol")
		if c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream never freed its place: %d", resp.StatusCode)
		}
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
}
