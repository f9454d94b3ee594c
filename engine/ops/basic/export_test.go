package basic

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// AddRun gives the merge a batch of the run of channel ch (as ProcessBatch does for a
// batch that came through input channel ch).
func (o *SortMergeOp) AddRun(ch int, rec arrow.RecordBatch, out runtime.Emitter) error {
	return o.add(ch, rec, out)
}

// EndRun ends the run of channel ch (as a SortRunEnd through input channel ch does).
func (o *SortMergeOp) EndRun(ch int, out runtime.Emitter) error { return o.end(ch, out) }
