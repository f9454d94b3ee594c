package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// CommitGroupOffsets commits offsets (the next offset to read of each partition) to the
// consumer group group, as a consumer outside the group's membership does (generation
// -1, as Flink's KafkaSource commits on checkpoints): the group's committed offsets are
// then what lag-monitoring tools (kafka-consumer-groups, Burrow, ...) report. It uses a
// client of its own, made from opts (brokers, security) and closed before it returns.
func CommitGroupOffsets(ctx context.Context, opts ReaderOptions, group string, offsets map[TopicPartition]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	kopts := append([]kgo.Opt{kgo.SeedBrokers(opts.Brokers...)}, opts.ClientOptions...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return rberr.Wrap(rberr.InvalidArgument, err, "kafka")
	}
	defer cl.Close()
	var os kadm.Offsets
	for tp, o := range offsets {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: o, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: committing offsets to consumer group %q", group)
	}
	return nil
}
