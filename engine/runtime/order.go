package runtime

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
)

// SkippedSplits is the Ctl of the control message a restored source subtask sends before
// anything else: the splits of the source with ordinal Source that the restored
// checkpoint had read completely, which no subtask reads again (their rows are in the
// state of the operators after the source, or have left the job). An operator that
// restores source order (the reorder before a gather) takes them as done rather than wait
// for them. Every subtask of the source sends the same splits.
type SkippedSplits struct {
	Source uint64
	Spans  [][2]int64 // [lo, hi) ranges of split indices, sorted and disjoint
}

// Has reports whether split i is skipped.
func (s SkippedSplits) Has(i int64) bool {
	k := sort.Search(len(s.Spans), func(k int) bool { return s.Spans[k][1] > i })
	return k < len(s.Spans) && s.Spans[k][0] <= i
}

// EmitSliced emits rec in slices of at most batchSize rows; it consumes rec.
func EmitSliced(rec arrow.RecordBatch, batchSize int, out Emitter) error {
	defer rec.Release()
	n := rec.NumRows()
	for off := int64(0); off < n; off += int64(batchSize) {
		end := min(off+int64(batchSize), n)
		if err := out.Emit(Message{Kind: MsgBatch, Rec: rec.NewSlice(off, end), Seq: SeqUnordered}); err != nil {
			return err
		}
	}
	return nil
}
