package actorhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/taskflow/taskflow/internal/actorhost"
)

// sidecar plays daprd's side of the actor stream: it records the
// registration and lets the test send callbacks and read the answers.
type sidecar struct {
	runtimev1pb.UnimplementedDaprServer
	streams chan *sidecarStream
}

type sidecarStream struct {
	initial *runtimev1pb.SubscribeActorEventsRequestInitialAlpha1
	send    chan *runtimev1pb.SubscribeActorEventsResponseAlpha1
	answers chan *runtimev1pb.SubscribeActorEventsRequestAlpha1
	closed  chan struct{}
	end     chan struct{} // closing it ends the stream from the sidecar's side
}

func (s *sidecar) SubscribeActorEventsAlpha1(stream runtimev1pb.Dapr_SubscribeActorEventsAlpha1Server) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	ss := &sidecarStream{initial: first.GetInitialRequest(), send: make(chan *runtimev1pb.SubscribeActorEventsResponseAlpha1),
		answers: make(chan *runtimev1pb.SubscribeActorEventsRequestAlpha1, 100), closed: make(chan struct{}), end: make(chan struct{})}
	if err := stream.Send(&runtimev1pb.SubscribeActorEventsResponseAlpha1{ResponseType: &runtimev1pb.SubscribeActorEventsResponseAlpha1_InitialResponse{
		InitialResponse: &runtimev1pb.SubscribeActorEventsResponseInitialAlpha1{}}}); err != nil {
		return err
	}
	s.streams <- ss
	go func() {
		defer close(ss.closed)
		for {
			msg, err := stream.Recv()
			if err != nil {
				return
			}
			ss.answers <- msg
		}
	}()
	for {
		select {
		case msg := <-ss.send:
			if err := stream.Send(msg); err != nil {
				return err
			}
		case <-ss.closed:
			return nil
		case <-ss.end:
			return errors.New("sidecar restarting")
		}
	}
}

func (ss *sidecarStream) answer(t *testing.T) *runtimev1pb.SubscribeActorEventsRequestAlpha1 {
	t.Helper()
	select {
	case a := <-ss.answers:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no answer on the actor stream")
		return nil
	}
}

func invoke(id, actorID, method string, data []byte) *runtimev1pb.SubscribeActorEventsResponseAlpha1 {
	return &runtimev1pb.SubscribeActorEventsResponseAlpha1{ResponseType: &runtimev1pb.SubscribeActorEventsResponseAlpha1_InvokeRequest{
		InvokeRequest: &runtimev1pb.SubscribeActorEventsResponseInvokeRequestAlpha1{Id: id, ActorType: "Counter", ActorId: actorID, Method: method, Data: data,
			Metadata: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}}
}

// counter is a test actor: "Add" adds its argument, "Slow" blocks until
// released, reminders are recorded.
type counter struct {
	id      string
	n       int
	host    *fixture
	release chan struct{}
}

func (c *counter) Invoke(ctx context.Context, method string, data []byte) ([]byte, error) {
	switch method {
	case "Add":
		var d int
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, err
		}
		c.n += d
		c.host.mu.Lock()
		c.host.traceparent = actorhost.Metadata(ctx)["traceparent"]
		c.host.mu.Unlock()
		return json.Marshal(map[string]any{"id": c.id, "n": c.n})
	case "Slow":
		c.host.started <- struct{}{}
		<-c.release
		return []byte(`"done"`), nil
	default:
		return nil, actorhost.ErrMethodNotFound
	}
}

func (c *counter) Remind(_ context.Context, name string, data []byte) {
	c.host.mu.Lock()
	defer c.host.mu.Unlock()
	c.host.reminded = append(c.host.reminded, name+"="+string(data))
}

type fixture struct {
	side        *sidecar
	host        *actorhost.Host
	cancel      context.CancelFunc
	done        chan error
	release     chan struct{}
	started     chan struct{}
	mu          sync.Mutex
	activations int
	reminded    []string
	traceparent string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	side := &sidecar{streams: make(chan *sidecarStream, 4)}
	srv := grpc.NewServer()
	runtimev1pb.RegisterDaprServer(srv, side)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fixture{side: side, done: make(chan error, 1), release: make(chan struct{}), started: make(chan struct{}, 10)}
	f.host, err = actorhost.New(actorhost.Config{ActorType: "Counter", IdleTimeout: time.Minute, DrainTimeout: 5 * time.Second, RetryMax: 50 * time.Millisecond},
		conn, func(id string) actorhost.Actor {
			f.mu.Lock()
			f.activations++
			f.mu.Unlock()
			return &counter{id: id, host: f, release: f.release}
		}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.host.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return f
}

func (f *fixture) stream(t *testing.T) *sidecarStream {
	t.Helper()
	select {
	case ss := <-f.side.streams:
		return ss
	case <-time.After(5 * time.Second):
		t.Fatal("the host opened no stream")
		return nil
	}
}

func TestHostRegistersAndAnswersCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ss := f.stream(t)
	if got := ss.initial.GetEntities(); len(got) != 1 || got[0] != "Counter" {
		t.Fatalf("registered %v", got)
	}
	if ss.initial.GetActorIdleTimeout().AsDuration() != time.Minute || !ss.initial.GetDrainRebalancedActors() {
		t.Fatalf("registration %v", ss.initial)
	}
	for deadline := time.Now().Add(5 * time.Second); !f.host.Ready(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("host never ready")
		}
	}

	// Dapr calls one actor id a turn at a time: wait for each answer of
	// "a" before its next call; "b" runs alongside.
	ss.send <- invoke("1", "a", "Add", []byte("2"))
	ss.send <- invoke("3", "b", "Add", []byte("10"))
	got := map[string]string{}
	for range 2 {
		a := ss.answer(t).GetInvokeResponse()
		got[a.GetId()] = string(a.GetData())
	}
	ss.send <- invoke("2", "a", "Add", []byte("3"))
	a := ss.answer(t).GetInvokeResponse()
	got[a.GetId()] = string(a.GetData())
	if got["1"] != `{"id":"a","n":2}` || got["2"] != `{"id":"a","n":5}` || got["3"] != `{"id":"b","n":10}` {
		t.Fatalf("answers %v", got)
	}
	if f.host.Active() != 2 {
		t.Fatalf("%d actors active, want 2", f.host.Active())
	}
	f.mu.Lock()
	if f.traceparent == "" {
		t.Error("the call's metadata did not reach the actor")
	}
	f.mu.Unlock()

	ss.send <- invoke("4", "a", "Nope", nil)
	if fail := ss.answer(t).GetRequestFailed(); fail.GetId() != "4" || codes.Code(fail.GetCode()) != codes.NotFound {
		t.Fatalf("unknown method: %v", fail)
	}
	ss.send <- invoke("5", "a", "Add", []byte("not json"))
	if fail := ss.answer(t).GetRequestFailed(); fail.GetId() != "5" || codes.Code(fail.GetCode()) != codes.Internal {
		t.Fatalf("failing method: %v", fail)
	}
}

func TestHostDeliversRemindersAndDeactivates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ss := f.stream(t)

	// Data registered through the gRPC API as bytes: a JSON string of
	// their base64, in a BytesValue.
	quoted, _ := json.Marshal([]byte(`{"k":1}`))
	data, _ := anypb.New(wrapperspb.Bytes(quoted))
	ss.send <- &runtimev1pb.SubscribeActorEventsResponseAlpha1{ResponseType: &runtimev1pb.SubscribeActorEventsResponseAlpha1_ReminderRequest{
		ReminderRequest: &runtimev1pb.SubscribeActorEventsResponseReminderRequestAlpha1{Id: "r1", ActorType: "Counter", ActorId: "a", Name: "tick", Data: data}}}
	if a := ss.answer(t).GetReminderResponse(); a.GetId() != "r1" || a.GetCancel() {
		t.Fatalf("reminder answer %v", a)
	}
	f.mu.Lock()
	if len(f.reminded) != 1 || f.reminded[0] != `tick={"k":1}` {
		t.Fatalf("reminded %v", f.reminded)
	}
	f.mu.Unlock()

	ss.send <- &runtimev1pb.SubscribeActorEventsResponseAlpha1{ResponseType: &runtimev1pb.SubscribeActorEventsResponseAlpha1_DeactivateRequest{
		DeactivateRequest: &runtimev1pb.SubscribeActorEventsResponseDeactivateRequestAlpha1{Id: "d1", ActorType: "Counter", ActorId: "a"}}}
	if a := ss.answer(t).GetDeactivateResponse(); a.GetId() != "d1" {
		t.Fatalf("deactivate answer %v", a)
	}
	if f.host.Active() != 0 {
		t.Fatalf("%d active after deactivation", f.host.Active())
	}
	ss.send <- invoke("2", "a", "Add", []byte("1"))
	if a := ss.answer(t).GetInvokeResponse(); string(a.GetData()) != `{"id":"a","n":1}` {
		t.Fatalf("after reactivation: %s", a.GetData())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.activations != 2 {
		t.Fatalf("%d activations, want 2", f.activations)
	}
}

func TestHostReopensABrokenStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.stream(t)
	close(first.end) // the sidecar goes away
	second := f.stream(t)
	second.send <- invoke("1", "a", "Add", []byte("4"))
	if a := second.answer(t).GetInvokeResponse(); string(a.GetData()) != `{"id":"a","n":4}` {
		t.Fatalf("answer after reconnect: %s", a.GetData())
	}
}

func TestHostDrainsCallsInFlightOnShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ss := f.stream(t)
	ss.send <- invoke("slow", "a", "Slow", nil)
	<-f.started
	f.cancel() // shutdown begins while "slow" runs
	// A call arriving during the drain is refused, to be retried elsewhere.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ss.send <- invoke("late", "b", "Add", []byte("1"))
		a := ss.answer(t)
		if fail := a.GetRequestFailed(); fail != nil && codes.Code(fail.GetCode()) == codes.Unavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a call during the drain was answered with %v", a)
		}
	}
	close(f.release)
	if a := ss.answer(t).GetInvokeResponse(); a.GetId() != "slow" || string(a.GetData()) != `"done"` {
		t.Fatalf("the call in flight was answered with %v", a)
	}
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		f.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	select {
	case <-ss.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not closed")
	}
}

func TestReminderData(t *testing.T) {
	t.Parallel()
	raw, _ := anypb.New(wrapperspb.Bytes([]byte(`{"a":1}`)))
	quoted, _ := json.Marshal([]byte("hi"))
	b64, _ := anypb.New(wrapperspb.Bytes(quoted))
	for name, tc := range map[string]struct {
		in   *anypb.Any
		want string
	}{
		"nil":              {nil, ""},
		"json object":      {raw, `{"a":1}`},
		"base64 as string": {b64, "hi"},
	} {
		if got := string(actorhost.ReminderData(tc.in)); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
