// Package actorhost hosts Dapr virtual actors over the app-initiated actor
// callback stream of Dapr 1.18 (SubscribeActorEventsAlpha1).
//
// The app dials its sidecar, opens one bidirectional gRPC stream, registers
// the actor types it hosts, and from then on receives every actor method
// call, reminder, timer and deactivation as a message on that stream and
// answers each with a message correlated by id. Compared with the HTTP app
// channel (daprd calling PUT /actors/{type}/{id}/method/{m} on the app's
// port) this saves an HTTP request per call, multiplexes every call on one
// HTTP/2 connection, and leaves no actor endpoint on the app's port for
// anyone to call: the sidecar is the only caller there is.
//
// Dapr requires the app channel to be gRPC (--app-protocol grpc) for the
// stream; the app serves the AppCallback services with AppServer.
package actorhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Actor is one activated actor. Dapr calls an actor id one call at a time
// (turn-based), so an Actor's methods are never called concurrently for
// the same id, but different ids run in parallel.
type Actor interface {
	// Invoke runs an actor method. The reply is returned to the caller as
	// is; an error fails the call (the caller sees a generic failure, so
	// methods whose callers must tell errors apart carry them in the reply).
	Invoke(ctx context.Context, method string, data []byte) (reply []byte, err error)
	// Remind handles a reminder firing; data is what the reminder was
	// registered with. The reminder keeps its schedule whatever it returns.
	Remind(ctx context.Context, name string, data []byte)
}

// Factory activates the actor with the given id.
type Factory func(id string) Actor

// ErrMethodNotFound is returned by Invoke for a method the actor does not
// have: Dapr does not retry the call.
var ErrMethodNotFound = errors.New("actor method not found")

// Config describes the hosted actor type and the runtime settings the host
// reports to its sidecar.
type Config struct {
	ActorType           string
	IdleTimeout         time.Duration // deactivate an actor unused this long (Dapr's default when 0)
	DrainOngoingTimeout time.Duration // on rebalancing, wait this long for calls in flight (Dapr's default when 0)
	// ReminderTimeout bounds one reminder handler (default 1m).
	ReminderTimeout time.Duration
	// DrainTimeout bounds how long Run waits, once its context is done, for
	// calls in flight to finish and be answered (default 20s).
	DrainTimeout time.Duration
	// RetryMax is the longest pause between attempts to open the stream
	// while the sidecar is unreachable (default 2s).
	RetryMax time.Duration
}

func (c Config) withDefaults() Config {
	if c.ReminderTimeout <= 0 {
		c.ReminderTimeout = time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 20 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 2 * time.Second
	}
	return c
}

// Host runs the actor callback stream for one actor type and keeps the
// activated actors. Run it once; its other methods are safe for concurrent
// use.
type Host struct {
	cfg     Config
	client  runtimev1pb.DaprClient
	factory Factory
	log     *slog.Logger
	m       hostMetrics

	mu     sync.Mutex
	actors map[string]Actor

	registered atomic.Bool
}

type hostMetrics struct {
	active     prometheus.GaugeFunc
	connected  prometheus.GaugeFunc
	reconnects prometheus.Counter
	calls      *prometheus.CounterVec
}

// New returns a Host that opens its stream on conn (the sidecar's gRPC
// API). Its metrics are registered on reg.
func New(cfg Config, conn grpc.ClientConnInterface, factory Factory, reg prometheus.Registerer, logger *slog.Logger) (*Host, error) {
	if cfg.ActorType == "" {
		return nil, errors.New("actorhost: no actor type")
	}
	h := &Host{
		cfg:     cfg.withDefaults(),
		client:  runtimev1pb.NewDaprClient(conn),
		factory: factory,
		log:     logger.With("component", "actor_host", "actor_type", cfg.ActorType),
		actors:  map[string]Actor{},
	}
	labels := prometheus.Labels{"actor_type": cfg.ActorType}
	h.m = hostMetrics{
		active: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taskflow_actors_active", ConstLabels: labels,
			Help: "Actors activated in this process."}, func() float64 { return float64(h.Active()) }),
		connected: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taskflow_actor_stream_connected", ConstLabels: labels,
			Help: "1 while the actor callback stream to the sidecar is registered."}, func() float64 {
			if h.registered.Load() {
				return 1
			}
			return 0
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "taskflow_actor_stream_opens_total", ConstLabels: labels,
			Help: "Actor callback streams registered with the sidecar (more than one means reconnects)."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskflow_actor_stream_callbacks_total", ConstLabels: labels,
			Help: "Callbacks received on the actor stream, by kind."}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{h.m.active, h.m.connected, h.m.reconnects, h.m.calls} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register actor host metrics: %w", err)
		}
	}
	return h, nil
}

// Ready reports whether the stream is registered with the sidecar, that
// is, whether this process receives actor calls.
func (h *Host) Ready() bool { return h.registered.Load() }

// Active returns the number of activated actors.
func (h *Host) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.actors)
}

// Run keeps the callback stream open until ctx is done, reopening it when
// it breaks (a sidecar restart). When ctx is done it stops taking calls,
// waits up to DrainTimeout for those in flight to be answered, and closes
// the stream. It returns nil on cancellation.
func (h *Host) Run(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := h.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 10*time.Second {
			backoff = 50 * time.Millisecond // it had been working: retry at once
		}
		h.log.WarnContext(ctx, "actor callback stream ended; reopening", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, h.cfg.RetryMax)
	}
	return nil
}

// serve runs one stream until it breaks or ctx is done.
func (h *Host) serve(ctx context.Context) error {
	// The stream outlives ctx by the drain: calls in flight are answered
	// on it before it is closed.
	streamCtx, cancelStream := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStream()
	stream, err := h.client.SubscribeActorEventsAlpha1(streamCtx)
	if err != nil {
		return fmt.Errorf("open actor stream: %w", err)
	}
	initial := &runtimev1pb.SubscribeActorEventsRequestInitialAlpha1{
		Entities:              []string{h.cfg.ActorType},
		DrainRebalancedActors: ptr(true),
		Reentrancy:            &runtimev1pb.ActorReentrancyConfig{Enabled: false},
	}
	if h.cfg.IdleTimeout > 0 {
		initial.ActorIdleTimeout = durationpb.New(h.cfg.IdleTimeout)
	}
	if h.cfg.DrainOngoingTimeout > 0 {
		initial.DrainOngoingCallTimeout = durationpb.New(h.cfg.DrainOngoingTimeout)
	}
	if err := stream.Send(&runtimev1pb.SubscribeActorEventsRequestAlpha1{
		RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_InitialRequest{InitialRequest: initial},
	}); err != nil {
		return fmt.Errorf("register actor types: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("register actor types: %w", err)
	}
	if first.GetInitialResponse() == nil {
		return errors.New("register actor types: the sidecar answered with something else")
	}
	h.registered.Store(true)
	defer h.registered.Store(false)
	h.m.reconnects.Inc()
	h.log.InfoContext(ctx, "actor callback stream registered")

	// One goroutine sends (a gRPC stream allows one sender at a time);
	// handlers queue their answers on a replier.
	r := &replier{out: make(chan *runtimev1pb.SubscribeActorEventsRequestAlpha1, 256), stop: make(chan struct{})}
	sendErr := make(chan error, 1)
	go func() { sendErr <- r.run(stream, cancelStream) }()

	// gate orders Add against Wait: once draining is set under it, no
	// further Add can race the Wait below (a WaitGroup forbids that).
	var (
		inflight sync.WaitGroup
		gate     sync.Mutex
		draining bool
	)
	recvErr := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			gate.Lock()
			if draining {
				gate.Unlock()
				h.refuse(msg, r)
				continue
			}
			inflight.Add(1)
			gate.Unlock()
			go func() {
				defer inflight.Done()
				h.handle(streamCtx, msg, r)
			}()
		}
	}()

	var result error
	select {
	case err := <-recvErr:
		if errors.Is(err, io.EOF) {
			err = errors.New("the sidecar closed the stream")
		}
		result = err
	case <-ctx.Done():
		h.log.InfoContext(ctx, "draining actor calls in flight")
	}
	// Answer what is in flight (on a broken stream the answers are lost:
	// the sidecar has already failed those calls), then close the stream.
	gate.Lock()
	draining = true
	gate.Unlock()
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(h.cfg.DrainTimeout):
		h.log.WarnContext(ctx, "actor calls still running after the drain timeout")
	}
	h.deactivateAll()
	close(r.stop)
	select {
	case err := <-sendErr:
		if result == nil && err != nil && ctx.Err() == nil {
			result = err
		}
	case <-time.After(5 * time.Second):
	}
	return result
}

// replier serialises the answers onto the stream.
type replier struct {
	out  chan *runtimev1pb.SubscribeActorEventsRequestAlpha1
	stop chan struct{} // closed when the stream is being closed
}

// send queues msg; it is dropped if the stream is closing.
func (r *replier) send(msg *runtimev1pb.SubscribeActorEventsRequestAlpha1) {
	select {
	case r.out <- msg:
	case <-r.stop:
	}
}

// run sends queued answers until stop, flushes what is queued, then
// closes the sending side. A send error cancels the stream.
func (r *replier) run(stream runtimev1pb.Dapr_SubscribeActorEventsAlpha1Client, cancel context.CancelFunc) error {
	for {
		select {
		case msg := <-r.out:
			if err := stream.Send(msg); err != nil {
				cancel()
				<-r.stop
				return err
			}
		case <-r.stop:
			for {
				select {
				case msg := <-r.out:
					if err := stream.Send(msg); err != nil {
						return err
					}
				default:
					return stream.CloseSend()
				}
			}
		}
	}
}

// handle runs one callback and queues its answer.
func (h *Host) handle(ctx context.Context, msg *runtimev1pb.SubscribeActorEventsResponseAlpha1, rp *replier) {
	switch m := msg.GetResponseType().(type) {
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_InvokeRequest:
		h.m.calls.WithLabelValues("invoke").Inc()
		r := m.InvokeRequest
		if r.GetActorType() != h.cfg.ActorType {
			rp.send(failed(r.GetId(), codes.NotFound, "unknown actor type"))
			return
		}
		reply, err := h.actor(r.GetActorId()).Invoke(withMetadata(ctx, r.GetMetadata()), r.GetMethod(), r.GetData())
		switch {
		case errors.Is(err, ErrMethodNotFound):
			rp.send(failed(r.GetId(), codes.NotFound, err.Error()))
		case err != nil:
			rp.send(failed(r.GetId(), codes.Internal, "actor method failed"))
		default:
			rp.send(&runtimev1pb.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_InvokeResponse{
				InvokeResponse: &runtimev1pb.SubscribeActorEventsRequestInvokeResponseAlpha1{
					Id: r.GetId(), Data: reply, Metadata: map[string]string{"content-type": "application/json"},
				}}})
		}
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_ReminderRequest:
		h.m.calls.WithLabelValues("reminder").Inc()
		r := m.ReminderRequest
		if r.GetActorType() == h.cfg.ActorType {
			rctx, cancel := context.WithTimeout(ctx, h.cfg.ReminderTimeout)
			h.actor(r.GetActorId()).Remind(rctx, r.GetName(), ReminderData(r.GetData()))
			cancel()
		}
		rp.send(&runtimev1pb.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_ReminderResponse{
			ReminderResponse: &runtimev1pb.SubscribeActorEventsRequestReminderResponseAlpha1{Id: r.GetId()}}})
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_TimerRequest:
		// No actor here uses timers; cancel any so they stop firing.
		h.m.calls.WithLabelValues("timer").Inc()
		rp.send(&runtimev1pb.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_TimerResponse{
			TimerResponse: &runtimev1pb.SubscribeActorEventsRequestReminderResponseAlpha1{Id: m.TimerRequest.GetId(), Cancel: true}}})
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_DeactivateRequest:
		h.m.calls.WithLabelValues("deactivate").Inc()
		r := m.DeactivateRequest
		h.mu.Lock()
		delete(h.actors, r.GetActorId())
		h.mu.Unlock()
		rp.send(&runtimev1pb.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_DeactivateResponse{
			DeactivateResponse: &runtimev1pb.SubscribeActorEventsRequestDeactivateResponseAlpha1{Id: r.GetId()}}})
	default:
		h.log.WarnContext(ctx, "unexpected message on the actor stream", "type", fmt.Sprintf("%T", m))
	}
}

// refuse answers a callback that arrives while draining: the caller may
// retry it on the actor's next host.
func (h *Host) refuse(msg *runtimev1pb.SubscribeActorEventsResponseAlpha1, r *replier) {
	var id string
	switch m := msg.GetResponseType().(type) {
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_InvokeRequest:
		id = m.InvokeRequest.GetId()
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_ReminderRequest:
		id = m.ReminderRequest.GetId()
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_TimerRequest:
		id = m.TimerRequest.GetId()
	case *runtimev1pb.SubscribeActorEventsResponseAlpha1_DeactivateRequest:
		id = m.DeactivateRequest.GetId()
	default:
		return
	}
	r.send(failed(id, codes.Unavailable, "actor host is shutting down"))
}

func (h *Host) actor(id string) Actor {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.actors[id]
	if !ok {
		a = h.factory(id)
		h.actors[id] = a
	}
	return a
}

func (h *Host) deactivateAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.actors)
}

func failed(id string, code codes.Code, msg string) *runtimev1pb.SubscribeActorEventsRequestAlpha1 {
	return &runtimev1pb.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1pb.SubscribeActorEventsRequestAlpha1_RequestFailed{
		RequestFailed: &runtimev1pb.SubscribeActorEventsRequestFailedAlpha1{Id: id, Code: uint32(code), Message: msg}}}
}

// ReminderData returns the bytes a reminder was registered with. Dapr
// keeps reminder data as a BytesValue holding JSON; data registered
// through the gRPC API as bytes is a JSON string of their base64.
func ReminderData(a *anypb.Any) []byte {
	if a == nil {
		return nil
	}
	raw := a.GetValue()
	var bv wrapperspb.BytesValue
	if a.MessageIs(&bv) {
		if err := a.UnmarshalTo(&bv); err == nil {
			raw = bv.GetValue()
		}
	}
	if len(raw) > 0 && raw[0] == '"' {
		var b []byte
		if err := json.Unmarshal(raw, &b); err == nil {
			return b
		}
	}
	return raw
}

type metadataKey struct{}

func withMetadata(ctx context.Context, md map[string]string) context.Context {
	if len(md) == 0 {
		return ctx
	}
	return context.WithValue(ctx, metadataKey{}, md)
}

// Metadata returns the request metadata of the actor call running in ctx
// (the caller's headers, such as traceparent), or nil.
func Metadata(ctx context.Context) map[string]string {
	md, _ := ctx.Value(metadataKey{}).(map[string]string)
	return md
}

func ptr[T any](v T) *T { return &v }
