package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
)

// GroupCleaner deletes the Kafka consumer groups that earlier notifier
// instances left behind. Every instance reads the topic in a group of its
// own, "{appID}-{uuid}" with a new uuid at each start (the fanout
// component), so every restart leaves an empty group with its committed
// offsets on the broker; brokers that never expire offsets keep them
// forever. A group is deleted only when its name is the prefix and a uuid,
// it has no members (state Empty), and it has consumed nothing newer than
// MinIdle: none of its committed offsets is past the first record written
// in the last MinIdle. The broker itself refuses to delete a group that has
// members. Safe for concurrent use; instances cleaning at once only repeat
// each other's work.
type GroupCleaner struct {
	adm     *kadm.Client
	prefix  string
	minIdle time.Duration
	log     *slog.Logger
}

// NewGroupCleaner returns a cleaner of the groups named prefix + uuid
// (prefix is the app id and a dash, "notifier-") idle for at least minIdle.
func NewGroupCleaner(adm *kadm.Client, prefix string, minIdle time.Duration, logger *slog.Logger) *GroupCleaner {
	return &GroupCleaner{adm: adm, prefix: prefix, minIdle: minIdle, log: logger.With("component", "group_cleaner")}
}

// Clean deletes the abandoned groups and returns their names, sorted.
func (c *GroupCleaner) Clean(ctx context.Context, now time.Time) ([]string, error) {
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list consumer groups: %w", err)
	}
	var named []string
	for g := range listed {
		if rest, ok := strings.CutPrefix(g, c.prefix); ok && uuid.Validate(rest) == nil {
			named = append(named, g)
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	described, err := c.adm.DescribeGroups(ctx, named...)
	if err != nil {
		return nil, fmt.Errorf("describe consumer groups: %w", err)
	}
	var empty []string
	for _, g := range described {
		if g.Err == nil && g.State == "Empty" && len(g.Members) == 0 {
			empty = append(empty, g.Group)
		}
	}
	if len(empty) == 0 {
		return nil, nil
	}
	fetched := c.adm.FetchManyOffsets(ctx, empty...)
	var topics []string
	for _, r := range fetched {
		for t := range r.Fetched {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	// The first offset of each partition written at or after now - minIdle
	// (the end offset where nothing was): a group committed past it
	// consumed something recent.
	var recent kadm.ListedOffsets
	if len(topics) > 0 {
		recent, err = c.adm.ListOffsetsAfterMilli(ctx, now.Add(-c.minIdle).UnixMilli(), topics...)
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
	}
	var idle []string
	for _, g := range empty {
		r, ok := fetched[g]
		if !ok || r.Err != nil {
			continue
		}
		active := false
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			l, ok := recent[o.Topic][o.Partition]
			if o.Err != nil || !ok || l.Err != nil || l.Offset < 0 || o.At > l.Offset {
				active = true // committed past the cutoff, or unknown: keep it
			}
		})
		if !active {
			idle = append(idle, g)
		}
	}
	if len(idle) == 0 {
		return nil, nil
	}
	deleted, err := c.adm.DeleteGroups(ctx, idle...)
	if err != nil {
		return nil, fmt.Errorf("delete consumer groups: %w", err)
	}
	var out []string
	var errs []error
	for _, r := range deleted {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("delete consumer group %s: %w", r.Group, r.Err))
			continue
		}
		out = append(out, r.Group)
	}
	slices.Sort(out)
	return out, errors.Join(errs...)
}

// Run cleans at once, then every interval until ctx is done.
func (c *GroupCleaner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		deleted, err := c.Clean(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "deleting abandoned consumer groups failed; retrying later", "error", err, "deleted", len(deleted))
		} else if len(deleted) > 0 {
			c.log.InfoContext(ctx, "deleted abandoned consumer groups", "groups", deleted)
		}
		t.Reset(interval)
	}
}
