package notifier

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Only groups that earlier notifier instances abandoned go: named
// "notifier-" + uuid, without members, and with nothing consumed recently.
// A live instance's group, a recently active one and every other
// application's group stay.
func TestGroupCleanerDeletesOnlyAbandonedNotifierGroups(t *testing.T) {
	t.Parallel()
	const topic = "task-events"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)

	// Offsets 0-2 written two hours ago, 3-4 a minute ago.
	now := time.Now()
	for i, at := range []time.Time{now.Add(-2 * time.Hour), now.Add(-2 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Minute), now.Add(-time.Minute)} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}, Timestamp: at}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(group string, at int64) {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %s: %v", group, err)
		}
	}
	group := func() string { return "notifier-" + uuid.NewString() }
	abandoned, abandonedToo := group(), group()
	commit(abandoned, 3)    // consumed only the old records
	commit(abandonedToo, 0) // consumed nothing
	recent := group()
	commit(recent, 5) // consumed the last minute's records: maybe just restarting
	other := "auditor-" + uuid.NewString()
	commit(other, 3)
	notUUID := "notifier-pool"
	commit(notUUID, 3)

	// A live notifier instance: a member in its group.
	live := group()
	member, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumerGroup(live), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(member.Close)
	for {
		member.PollFetches(ctx)
		if err := member.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := adm.DescribeGroups(ctx, live)
		if err != nil {
			t.Fatal(err)
		}
		if d[live].State == "Stable" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the live member never joined its group")
		}
	}

	c := NewGroupCleaner(adm, "notifier-", time.Hour, slog.New(slog.DiscardHandler))
	deleted, err := c.Clean(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{abandoned, abandonedToo}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Fatalf("deleted %v, want %v", deleted, want)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{recent, other, notUUID, live} {
		if _, ok := listed[g]; !ok {
			t.Errorf("group %s was deleted", g)
		}
	}
	for _, g := range want {
		if _, ok := listed[g]; ok {
			t.Errorf("group %s is still there", g)
		}
	}
}
