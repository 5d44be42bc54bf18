package api

import (
	"net"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A request's span keeps its method after the connection's next request:
// fasthttp parses each request of a keep-alive connection into the same
// buffer, and a span is exported after its request is done. (The e2e trace
// test's API once reported a data race here: the method attribute pointed
// into that buffer.)
func TestSpanOutlivesItsRequestsBuffer(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(traced(tracer))
	app.Patch("/things/:id", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	app.Get("/things/:id", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}} // one keep-alive connection
	for _, method := range []string{http.MethodPatch, http.MethodGet, http.MethodGet} {
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/things/abcdefghijklmnopqrstuvwxyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	first := spans[0]
	if first.Name() != "PATCH /things/:id" {
		t.Errorf("span name %q", first.Name())
	}
	want := map[attribute.Key]string{"http.request.method": "PATCH", "http.route": "/things/:id", "url.path": "/things/abcdefghijklmnopqrstuvwxyz"}
	for _, kv := range first.Attributes() {
		if w, ok := want[kv.Key]; ok && kv.Value.AsString() != w {
			t.Errorf("%s = %q after the connection's next requests, want %q", kv.Key, kv.Value.AsString(), w)
		}
	}
}
