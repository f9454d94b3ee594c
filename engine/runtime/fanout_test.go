package runtime

import "testing"

// ReseqOp moves a batch or split marker to another source ordinal and keeps its split and
// chunk; rows an operator made keep no order and pass as they are.
func TestReseqRenumbersTheSourceOnly(t *testing.T) {
	op := &ReseqOp{Ordinals: map[int]int{3: 9}}
	for _, c := range []struct{ in, want Seq }{
		{MakeSeq(3, 17, 5), MakeSeq(9, 17, 5)},
		{MakeSeq(3, 1<<40, 1<<30), MakeSeq(9, 1<<40, 1<<30)},
		{MakeSeq(4, 1, 1), MakeSeq(4, 1, 1)},
		{SeqUnordered, SeqUnordered},
	} {
		if got := op.renumber(Message{Kind: MsgBatch, Seq: c.in}).Seq; got != c.want {
			t.Errorf("renumber(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
