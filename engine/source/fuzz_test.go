package source

import (
	"reflect"
	"testing"

	"github.com/riverbed-engine/riverbed/kafka"
)

// Checkpoint bytes of a source position decode to a position that encodes and decodes to
// itself, or to an error; never a panic.
func FuzzDecodePosition(f *testing.F) {
	for _, p := range []Position{{}, {Split: 3, Chunk: -1, Row: 1 << 40}, {Split: 1, EventMax: -5, HasEventMax: true}} {
		b, _ := p.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Position
		if p.UnmarshalBinary(b) != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q Position
		if err := q.UnmarshalBinary(again); err != nil || q != p {
			t.Fatalf("%v encoded as %x came back as %v (%v)", p, again, q, err)
		}
	})
}

// The same for a Kafka subtask's positions (KafkaPositions).
func FuzzDecodeKafkaPositions(f *testing.F) {
	for _, ps := range []KafkaPositions{nil,
		{{TopicPartition: kafka.TopicPartition{Topic: "t", Partition: 2}, Next: 7, End: -1, EventMax: 9, HasEventMax: true}},
		{{TopicPartition: kafka.TopicPartition{Topic: "a", Partition: 0}, Next: 0, End: 4}}} {
		b, _ := ps.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 1, 1, 'a', 0, 10, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ps KafkaPositions
		if ps.UnmarshalBinary(b) != nil {
			return
		}
		again, err := ps.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q KafkaPositions
		if err := q.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(q, ps) {
			t.Fatalf("%v encoded as %x came back as %v (%v)", ps, again, q, err)
		}
	})
}
