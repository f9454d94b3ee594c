package kafka

import (
	"context"
	"regexp"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Discoverer finds the partitions of a list of topics or of every topic whose
// name matches a pattern, and on each later call the partitions that are new
// since the one before (added partitions, new matching topics).
type Discoverer struct {
	adm     *kadm.Client
	topics  []string
	pattern *regexp.Regexp
	known   map[TopicPartition]bool
}

// NewDiscoverer discovers the partitions of topics, or, if pattern is
// non-nil, of all (non-internal) topics whose full name it matches.
func NewDiscoverer(cl *kgo.Client, topics []string, pattern *regexp.Regexp) (*Discoverer, error) {
	if (len(topics) == 0) == (pattern == nil) {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: give either topics or a pattern")
	}
	if pattern != nil {
		// Flink's topic-pattern matches whole names.
		pattern = regexp.MustCompile(`^(?:` + pattern.String() + `)$`)
	}
	return &Discoverer{adm: kadm.NewClient(cl), topics: topics, pattern: pattern, known: map[TopicPartition]bool{}}, nil
}

// Discover returns the partitions not returned before, sorted. A named topic
// that does not exist is a NotFound error.
func (d *Discoverer) Discover(ctx context.Context) ([]TopicPartition, error) {
	var (
		details kadm.TopicDetails
		err     error
	)
	if d.pattern != nil {
		details, err = d.adm.ListTopics(ctx)
	} else {
		details, err = d.adm.ListTopics(ctx, d.topics...)
	}
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "kafka: listing topics")
	}
	var found []TopicPartition
	for _, td := range details {
		if d.pattern != nil && !d.pattern.MatchString(td.Topic) {
			continue
		}
		if td.Err != nil {
			if d.pattern != nil {
				// A matching topic the broker cannot describe yet (one being created,
				// its leaders not elected): found by a later discovery. Only named
				// topics must be there.
				continue
			}
			return nil, rberr.Wrap(rberr.NotFound, td.Err, "kafka: topic %q", td.Topic)
		}
		for _, pd := range td.Partitions {
			tp := TopicPartition{Topic: td.Topic, Partition: pd.Partition}
			if !d.known[tp] {
				d.known[tp] = true
				found = append(found, tp)
			}
		}
	}
	for _, t := range d.topics {
		if _, ok := details[t]; !ok {
			return nil, rberr.New(rberr.NotFound, "kafka: topic %q does not exist", t)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Topic != found[j].Topic {
			return found[i].Topic < found[j].Topic
		}
		return found[i].Partition < found[j].Partition
	})
	return found, nil
}
