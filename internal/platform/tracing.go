package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TracingConfig says whether an app exports its spans. The OTLP exporter
// itself reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint,
// headers, timeout, compression) and the SDK reads OTEL_BSP_* (batching)
// and OTEL_TRACES_SAMPLER*; this only decides whether to export at all.
type TracingConfig struct {
	// Endpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT: an OTLP/HTTP URL. Empty exports nothing:
	// incoming trace context is still propagated, but no span is recorded.
	Endpoint string
	// ServiceName is the service.name of every span: OTEL_SERVICE_NAME,
	// else the app id.
	ServiceName string
}

// Exporting reports whether spans are exported.
func (c TracingConfig) Exporting() bool { return c.Endpoint != "" }

// LoadTracingConfig reads the tracing settings of app from env.
func LoadTracingConfig(env *Env, app string) TracingConfig {
	c := TracingConfig{ServiceName: env.String("OTEL_SERVICE_NAME", app)}
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	c.Endpoint = env.String(name, "")
	if c.Endpoint == "" {
		name = "OTEL_EXPORTER_OTLP_ENDPOINT"
		c.Endpoint = env.String(name, "")
	}
	if strings.EqualFold(env.String("OTEL_SDK_DISABLED", ""), "true") ||
		strings.EqualFold(env.String("OTEL_TRACES_EXPORTER", ""), "none") {
		c.Endpoint = ""
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			env.Fail(fmt.Errorf("%s=%q: want an OTLP/HTTP URL such as http://otel-collector:4318", name, c.Endpoint))
			c.Endpoint = ""
		}
	}
	return c
}

// StartTracing installs the W3C Trace Context propagator and, when cfg
// exports, a TracerProvider that batches spans to the OTLP/HTTP endpoint.
// The returned shutdown flushes the spans still buffered and must be
// called once the app has stopped; it does nothing when nothing exports.
// Spans and propagator are global (otel.SetTracerProvider): tracers taken
// with tracing.Tracer before or after this call use them.
func StartTracing(ctx context.Context, cfg TracingConfig, logger *slog.Logger) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if !cfg.Exporting() {
		return func(context.Context) error { return nil }, nil
	}
	// The exporter takes the endpoint (and headers, timeout, TLS) from the
	// OTEL_EXPORTER_OTLP_* variables itself, exactly as the spec says.
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", cfg.Endpoint, err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", cfg.ServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("exporting traces failed", "endpoint", cfg.Endpoint, "error", err)
	}))
	logger.InfoContext(ctx, "exporting traces", "endpoint", cfg.Endpoint, "service_name", cfg.ServiceName)
	return tp.Shutdown, nil
}
