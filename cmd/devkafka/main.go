// Command devkafka runs an in-memory broker that speaks the Kafka wire
// protocol (franz-go's kfake), so daprd's pubsub.kafka component works on a
// machine without Kafka. It keeps everything in memory and is meant for
// development and tests only; production uses real Kafka.
//
//	devkafka [-addr 127.0.0.1:9092] [-topics task-events] [-partitions 8]
//
// DEVKAFKA_ADDR sets the default of -addr. Topics that clients ask for and that
// do not exist yet are created on the fly with -partitions partitions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// config is what devkafka reads from its flags and environment.
type config struct {
	Addr       string   // host:port to listen on; port 0 picks a free port
	Topics     []string // created at start
	Partitions int      // for the seeded and for auto-created topics
}

func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("-addr (DEVKAFKA_ADDR) %q: %w", c.Addr, err))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("-partitions must be at least 1, got %d", c.Partitions))
	}
	return errors.Join(errs...)
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "devkafka")
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		logger.Error("invalid configuration", "error", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("devkafka failed", "error", err)
		os.Exit(1)
	}
}

func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	addr := getenv("DEVKAFKA_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9092"
	}
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	fs.SetOutput(output)
	var topics string
	cfg := config{}
	fs.StringVar(&cfg.Addr, "addr", addr, "listen address host:port (env DEVKAFKA_ADDR)")
	fs.StringVar(&topics, "topics", "task-events", "comma-separated topics to create at start")
	fs.IntVar(&cfg.Partitions, "partitions", 8, "partitions of seeded and auto-created topics")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for t := range strings.SplitSeq(topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Topics = append(cfg.Topics, t)
		}
	}
	return cfg, cfg.validate()
}

// run serves one in-memory broker on cfg.Addr until ctx is done.
func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	// kfake binds 127.0.0.1:<port> itself; listening through ListenFn honours
	// the host of -addr as well.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		return fmt.Errorf("start broker: %w", err)
	}
	defer cluster.Close()

	logger.InfoContext(ctx, "devkafka listening on "+ln.Addr().String(),
		"addr", ln.Addr().String(), "topics", cfg.Topics, "partitions", cfg.Partitions)
	<-ctx.Done()
	logger.Info("devkafka stopping")
	return nil
}
