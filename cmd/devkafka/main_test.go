package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, nil, config{Addr: "127.0.0.1:9092", Topics: []string{"task-events"}, Partitions: 8}, ""},
		{"env address", nil, map[string]string{"DEVKAFKA_ADDR": "127.0.0.1:19092"},
			config{Addr: "127.0.0.1:19092", Topics: []string{"task-events"}, Partitions: 8}, ""},
		{"flags win over env", []string{"-addr", "127.0.0.1:0", "-topics", "a, b,,", "-partitions", "3"},
			map[string]string{"DEVKAFKA_ADDR": "127.0.0.1:19092"},
			config{Addr: "127.0.0.1:0", Topics: []string{"a", "b"}, Partitions: 3}, ""},
		{"no topics", []string{"-topics", ""}, nil, config{Addr: "127.0.0.1:9092", Partitions: 8}, ""},
		{"every problem", []string{"-addr", "nonsense", "-partitions", "0"}, nil, config{}, "-addr"},
		{"stray argument", []string{"extra"}, nil, config{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test together.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunRoundTrip starts the broker on a free port, produces to the seeded
// topic and to an auto-created one, reads both back in a consumer group, and
// stops the broker.
func TestRunRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, config{Addr: "127.0.0.1:0", Topics: []string{"task-events"}, Partitions: 2},
			slog.New(slog.NewJSONHandler(&logs, nil)))
	}()

	var addr string
	for addr == "" {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec.Msg, "devkafka listening on ") {
				addr = rec.Addr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v", err)
		case <-ctx.Done():
			t.Fatal("no listening line logged")
		case <-time.After(10 * time.Millisecond):
		}
	}

	client, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup("devkafka-test"),
		kgo.ConsumeTopics("task-events", "auto-created"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, topic := range []string{"task-events", "auto-created"} {
		if err := client.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("hello " + topic)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	got := map[string]string{}
	for len(got) < 2 {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v before timeout", got)
		}
		fetches.EachRecord(func(r *kgo.Record) { got[r.Topic] = string(r.Value) })
	}
	if want := map[string]string{"task-events": "hello task-events", "auto-created": "hello auto-created"}; !reflect.DeepEqual(got, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}

	client.Close()
	stop()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
