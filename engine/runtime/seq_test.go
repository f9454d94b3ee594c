package runtime

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type collectEmitter struct{ got []Message }

func (c *collectEmitter) Emit(m Message) error {
	c.got = append(c.got, m)
	return nil
}

func int64Batch(t *testing.T, vals ...int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(int64Schema, []arrow.Array{a}, int64(len(vals)))
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

	// The reorder operator restores split order for chunks numbered past 2^20: split 1
	// arrives first and is held until split 0 (whose chunks go past 2^20) is done.
	op := NewReorderOp([]int{0}, map[int]int{0: 2})
	out := &collectEmitter{}
	in := []Message{
		{Kind: MsgBatch, Rec: int64Batch(t, 4), Seq: MakeSeq(0, 1, 0)},
		{Kind: MsgBatch, Rec: int64Batch(t, 1), Seq: MakeSeq(0, 0, 0)},
		{Kind: MsgBatch, Rec: int64Batch(t, 2), Seq: MakeSeq(0, 0, 1<<20)},
		{Kind: MsgBatch, Rec: int64Batch(t, 3), Seq: MakeSeq(0, 0, big)},
		{Kind: MsgSplitDone, Seq: MakeSeq(0, 1, 0)},
		{Kind: MsgSplitDone, Seq: MakeSeq(0, 0, 0)},
	}
	for _, m := range in {
		var err error
		if m.Kind == MsgBatch {
			err = op.ProcessBatch(m, out)
		} else {
			err = op.ProcessMarker(m, out)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := op.Finish(out); err != nil {
		t.Fatal(err)
	}
	var vals []int64
	for _, m := range out.got {
		if m.Kind == MsgBatch {
			vals = append(vals, m.Rec.Column(0).(*array.Int64).Value(0))
			m.Rec.Release()
		}
	}
	want := []int64{1, 2, 3, 4}
	if len(vals) != len(want) {
		t.Fatalf("got %v, want %v", vals, want)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Fatalf("got %v, want %v", vals, want)
		}
	}
}

var int64Schema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
