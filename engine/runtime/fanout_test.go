package runtime

import "testing"

func TestSeqOrdinalFollowsMakeSeq(t *testing.T) {
	for _, c := range [][3]int{{0, 0, 0}, {3, 17, 5}, {1000, 1 << 20, 1<<20 - 1}} {
		seq := MakeSeq(c[0], c[1], c[2])
		if got := SeqOrdinal(seq); got != c[0] {
			t.Errorf("SeqOrdinal(MakeSeq%v) = %d", c, got)
		}
		if got, want := SeqWithOrdinal(seq, 9), MakeSeq(9, c[1], c[2]); got != want {
			t.Errorf("SeqWithOrdinal(MakeSeq%v, 9) = %x, want %x", c, got, want)
		}
	}
}
