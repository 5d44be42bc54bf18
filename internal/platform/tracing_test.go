package platform

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestLoadTracingConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    TracingConfig
		wantErr string
	}{
		{"nothing set: no export", nil, TracingConfig{ServiceName: "api"}, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			TracingConfig{Endpoint: "http://collector:4318", ServiceName: "api"}, ""},
		{"traces endpoint wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/v1/traces"},
			TracingConfig{Endpoint: "https://b/v1/traces", ServiceName: "api"}, ""},
		{"service name override", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SERVICE_NAME": "edge-api"},
			TracingConfig{Endpoint: "http://a:4318", ServiceName: "edge-api"}, ""},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"},
			TracingConfig{ServiceName: "api"}, ""},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"},
			TracingConfig{ServiceName: "api"}, ""},
		{"not a URL", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
			TracingConfig{ServiceName: "api"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"bad traces endpoint named", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://x"},
			TracingConfig{ServiceName: "api"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := NewEnvFrom(tc.env)
			got := LoadTracingConfig(env, "api")
			if got != tc.want {
				t.Errorf("config %+v, want %+v", got, tc.want)
			}
			err := env.Err()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// Without an endpoint only the propagator is installed: nothing exports
// and shutdown has nothing to flush.
func TestStartTracingWithoutEndpoint(t *testing.T) {
	before := otel.GetTracerProvider()
	shutdown, err := StartTracing(context.Background(), TracingConfig{ServiceName: "api"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := otel.GetTextMapPropagator().(propagation.TraceContext); !ok {
		t.Fatalf("propagator %T, want W3C TraceContext", otel.GetTextMapPropagator())
	}
	if after := otel.GetTracerProvider(); after != before {
		t.Fatalf("tracer provider %T installed without an endpoint", after)
	}
}

// With an endpoint, spans go to it by OTLP/HTTP with the service name, and
// shutdown flushes what the batcher still holds.
func TestStartTracingExportsAndShutdownFlushes(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "60000") // only the shutdown flush sends
	ctx := context.Background()
	cfg := LoadTracingConfig(NewEnv(), "auditor")
	shutdown, err := StartTracing(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, "work")
	want := span.SpanContext().TraceID()
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var found bool
	for _, req := range got {
		for _, rs := range req.GetResourceSpans() {
			var service string
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					if [16]byte(s.GetTraceId()) == want {
						found = true
						if service != "auditor" {
							t.Errorf("service.name %q, want the app id auditor", service)
						}
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("the span was not exported on shutdown (%d export requests)", len(got))
	}
}
