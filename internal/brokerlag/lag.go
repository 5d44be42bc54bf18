// Package brokerlag reads the subscribers' consumer lag from the Kafka
// brokers for the ops view.
package brokerlag

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taskflow/taskflow/api"
)

// Reader reads consumer group lag. Safe for concurrent use.
type Reader struct {
	client *kgo.Client
	adm    *kadm.Client
}

// New connects lazily to brokers (comma-separated host:port list).
func New(brokers string) (*Reader, error) {
	var seeds []string
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("no brokers in %q", brokers)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ClientID("taskflow-ops"))
	if err != nil {
		return nil, err
	}
	return &Reader{client: cl, adm: kadm.NewClient(cl)}, nil
}

// Close closes the broker connections.
func (r *Reader) Close() { r.client.Close() }

// Lags returns every consumer group's lag (messages not yet committed by
// the group, per topic), the most lagging first.
func (r *Reader) Lags(ctx context.Context) ([]api.ConsumerLag, error) {
	listed, err := r.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list consumer groups: %w", err)
	}
	described, err := r.adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		return nil, fmt.Errorf("consumer lag: %w", err)
	}
	out := make([]api.ConsumerLag, 0, len(described))
	for _, g := range described {
		if g.Error() != nil {
			continue
		}
		cl := api.ConsumerLag{Group: g.Group, State: g.State, Members: len(g.Members), Topics: map[string]int64{}}
		for _, tl := range g.Lag.TotalByTopic() {
			cl.Topics[tl.Topic] = tl.Lag
			cl.Lag += tl.Lag
		}
		out = append(out, cl)
	}
	slices.SortFunc(out, func(a, b api.ConsumerLag) int {
		if a.Lag != b.Lag {
			return int(b.Lag - a.Lag)
		}
		return strings.Compare(a.Group, b.Group)
	})
	return out, nil
}
