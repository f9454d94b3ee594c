package runtime

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

type collectEmitter struct{ got []Message }

func (c *collectEmitter) Emit(m Message) error {
	c.got = append(c.got, m)
	return nil
}

// Chunk numbers past 2^20 (a split read one row at a time, an unbounded source) keep their
// order and never spill into the split: the old packed sequence made chunk 2^20 of split 0
// equal to chunk 0 of split 1.
func TestSeqChunksPast2To20KeepOrder(t *testing.T) {
	big := int64(1)<<20 + 7
	cases := []struct {
		a, b Seq
	}{
		{MakeSeq(0, 0, big), MakeSeq(0, 1, 0)},
		{MakeSeq(0, 0, 1<<20), MakeSeq(0, 1, 0)},
		{MakeSeq(0, 1<<28, 0), MakeSeq(1, 0, 0)},
		{MakeSeq(0, 5, 1<<40), MakeSeq(0, 5, 1<<40+1)},
		{MakeSeq(3, 1<<62, 1<<62), SeqUnordered},
	}
	for _, c := range cases {
		if !c.a.Less(c.b) || c.b.Less(c.a) || c.a == c.b || c.a.Compare(c.b) != -1 || c.b.Compare(c.a) != 1 {
			t.Errorf("%+v should come before %+v", c.a, c.b)
		}
	}
	if SplitOf(MakeSeq(2, 9, big)) != MakeSeq(2, 9, 0) {
		t.Errorf("SplitOf kept the chunk")
	}
}

var int64Schema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
