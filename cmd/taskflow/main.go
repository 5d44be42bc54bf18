// Command taskflow is the developer's tool for TaskFlow:
//
//	taskflow run                  start the whole local stack from dapr.yaml
//	taskflow token --user alice   print a development JWT for a user
//	taskflow migrate up|down      apply or revert database migrations
//	taskflow mcp                  serve the MCP tools over stdio for an AI agent
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/devstack"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/migrations"
	"github.com/taskflow/taskflow/postgres"
)

const usage = `usage:
  taskflow run [--root DIR]                     start the local stack described by dapr.yaml (Ctrl-C stops it)
  taskflow token --user ID [--ttl 24h] [--roles taskflow-admin]
                                                print a development token (HS256 with JWT_SECRET)
  taskflow ops apps|reminders|operations|outbox|dead-letters [--json]
  taskflow ops dead-letter ID | replay ID | retry OPERATION_ID | terminate OPERATION_ID
                                                the ops view from the terminal (TASKFLOW_URL, TASKFLOW_TOKEN)
  taskflow migrate up | down [--steps N]        apply or revert migrations on DATABASE_URL
  taskflow mcp [--url URL] [--timezone ZONE]    serve the MCP tools for AI agents over stdio, as the user
                                                whose token TASKFLOW_TOKEN holds (TASKFLOW_URL, TASKFLOW_AUDIT_URL)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "taskflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "run":
		return runStack(ctx, args[1:], stdout)
	case "token":
		return token(args[1:], stdout)
	case "migrate":
		return migrate(ctx, args[1:], stdout)
	case "ops":
		return opsCommand(ctx, args[1:], stdout)
	case "mcp":
		return mcpCommand(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	user := fs.String("user", "", "user id (the token's sub)")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	roles := fs.String("roles", "", "comma-separated roles (the roles claim), e.g. taskflow-admin for the ops view")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("token: --user is required")
	}
	env := platform.NewEnv()
	cfg := platform.DevToolAuthConfig(env)
	if err := env.Err(); err != nil {
		return err
	}
	if len(cfg.Secret) == 0 {
		return errors.New("token: JWT_SECRET is not set (tokens for a JWKS issuer come from that issuer)")
	}
	var roleList []string
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roleList = append(roleList, r)
		}
	}
	tok, err := auth.Mint(cfg.Secret, *user, auth.MintOptions{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: *ttl, Roles: roleList})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func migrate(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("migrate: want up or down")
	}
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	steps := fs.Int("steps", 1, "down: how many migrations to revert (0 = all)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	url := platform.NewEnv().String("DATABASE_URL", postgres.DefaultURL)
	if err := postgres.EnsureDatabase(ctx, url); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, url, "taskflow-cli", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	var n int
	if args[0] == "up" {
		n, err = migrations.Up(ctx, pool)
	} else {
		n, err = migrations.Down(ctx, pool, *steps)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "migrate %s: %d migration(s)\n", args[0], n)
	return err
}

func runStack(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root (holds dapr.yaml, components/ and bin/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	env := platform.NewEnv()
	dbURL := env.String("DATABASE_URL", postgres.DefaultURL)
	logger, err := platform.NewLogger(stdout, env.String("LOG_LEVEL", "info"), "taskflow-run")
	if err != nil {
		return err
	}
	if err := postgres.EnsureDatabase(ctx, dbURL); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	stack, err := devstack.Start(startCtx, devstack.Options{
		Root:    abs,
		Env:     map[string]string{"DATABASE_URL": dbURL},
		Kafka:   true,
		Logger:  logger,
		Console: stdout,
	})
	if err != nil {
		return err
	}
	defer stack.Close()
	api := stack.App("api")
	fmt.Fprintf(stdout, "\nTaskFlow is up. API %s  notifier %s  auditor %s  (logs in %s)\n"+
		"Kafka: %s (development broker unless KAFKA_BROKERS was set). Ctrl-C stops everything.\n\n",
		api.URL, stack.App("notifier").URL, stack.App("auditor").URL, filepath.Join(abs, ".run", "logs"), stack.KafkaBrokers())
	logger = logger.With("component", "taskflow-run")

	done := make(chan error, 1)
	go func() { done <- stack.Wait() }()
	select {
	case <-ctx.Done():
		logger.Info("stopping the stack")
	case err := <-done:
		if err != nil {
			logger.Error("a process of the stack exited; stopping the rest", "error", err)
			return errors.Join(err, stack.Close())
		}
	}
	return stack.Close()
}
