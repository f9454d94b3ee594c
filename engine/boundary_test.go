package engine

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// blockingReader yields n batches of an int64 column, then blocks in Next until unblock
// is closed (a live stream whose producer has nothing to say).
type blockingReader struct {
	refs    atomic.Int64
	schema  *arrow.Schema
	batch   arrow.RecordBatch
	n       int
	unblock chan struct{}
	cur     arrow.RecordBatch
}

func newBlockingReader(mem memory.Allocator, rows, n int) *blockingReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := 0; i < rows; i++ {
		b.Append(int64(i))
	}
	col := b.NewArray()
	defer col.Release()
	r := &blockingReader{schema: schema, batch: array.NewRecordBatch(schema, []arrow.Array{col}, int64(rows)), n: n,
		unblock: make(chan struct{})}
	r.refs.Store(1)
	return r
}

func (r *blockingReader) Retain() { r.refs.Add(1) }
func (r *blockingReader) Release() {
	if r.refs.Add(-1) == 0 {
		r.batch.Release()
	}
}
func (r *blockingReader) Schema() *arrow.Schema          { return r.schema }
func (r *blockingReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *blockingReader) Record() arrow.RecordBatch      { return r.cur }
func (r *blockingReader) Err() error                     { return nil }
func (r *blockingReader) Next() bool {
	if r.n == 0 {
		<-r.unblock
		return false
	}
	r.n--
	r.cur = r.batch
	return true
}

const scanPlan = `{"version": 1, "root": {"op": "scan_arrow", "source": 0}, "options": {"parallelism": 1}}`

func waitEnd(t *testing.T, j *runtime.Job) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- j.Wait() }()
	select {
	case err := <-res:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not end within 5 s")
		return nil
	}
}

// Cancel and Stop end a job at once while its live source blocks in the caller's stream;
// the stream is released when its read returns.
func TestBlockedLiveSourceDoesNotHoldUpCancelOrStop(t *testing.T) {
	for _, how := range []string{"cancel", "stop"} {
		t.Run(how, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			r := newBlockingReader(mem, 10, 1)
			j, err := Start(context.Background(), []byte(scanPlan), []array.RecordReader{r}, mem)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := j.Next()
			if err != nil || rec.NumRows() != 10 {
				t.Fatalf("first batch: %v", err)
			}
			rec.Release()
			if how == "cancel" {
				j.Cancel()
				if err := waitEnd(t, j); rberr.KindOf(err) != rberr.Cancelled {
					t.Fatalf("want a cancelled error, got %v", err)
				}
			} else {
				j.Stop(false)
				if err := waitEnd(t, j); err != nil {
					t.Fatalf("stop: %v", err)
				}
			}
			if r.refs.Load() != 1 {
				t.Fatalf("the stream must stay held while its read blocks, refs = %d", r.refs.Load())
			}
			close(r.unblock)
			deadline := time.Now().Add(5 * time.Second)
			for r.refs.Load() != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if r.refs.Load() != 0 {
				t.Fatal("the stream was not released after its read returned")
			}
			mem.AssertSize(t, 0)
		})
	}
}

// An unread job holds at most its buffer budget of queued batches (plus one batch per
// empty queue), not a number of batches.
func TestUnreadJobQueuesAreBoundedInBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	const rows = 1000 // 8000 bytes a batch
	r := newBlockingReader(mem, rows, 1_000_000)
	plan := `{"version": 1, "root": {"op": "filter", "predicate": {"fn": "gt", "args": [{"col": "x"}, {"lit": -1, "type": "int64"}]},
		"input": {"op": "scan_arrow", "source": 0}}, "options": {"parallelism": 2, "batch_size": 1000, "buffer_bytes": 40000}}`
	j, err := Start(context.Background(), []byte(plan), []array.RecordReader{r}, mem)
	if err != nil {
		t.Fatal(err)
	}
	// Let the job fill its queues, then read nothing for a while.
	var used int64
	for i := 0; i < 20; i++ {
		time.Sleep(25 * time.Millisecond)
		j.Budget.Mu.Lock()
		used = max(used, j.Budget.Used)
		j.Budget.Mu.Unlock()
	}
	// Three queues (two filter subtasks, the collector) and the results channel may each
	// take one batch beyond the budget.
	if limit := int64(40000 + 4*rows*8); used > limit || used < 40000-rows*8 {
		t.Fatalf("queued bytes %d, want the budget filled but at most %d", used, limit)
	}
	if n := mem.CurrentAlloc(); n > 200_000 {
		t.Fatalf("the unread job holds %d bytes of Arrow memory", n)
	}
	j.Cancel()
	if err := waitEnd(t, j); rberr.KindOf(err) != rberr.Cancelled {
		t.Fatalf("want a cancelled error, got %v", err)
	}
	close(r.unblock)
	j.Close()
	_, err = j.Next()
	if err == io.EOF {
		t.Fatal("a cancelled job must not end cleanly")
	}
}

// panickyReader panics in Next: a bug in a stream's producer (or in the importer) fails the
// job instead of killing the process.
type panickyReader struct{ *blockingReader }

func (r panickyReader) Next() bool { panic("producer bug") }

func TestPanicReadingALiveSourceFailsTheJob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := panickyReader{newBlockingReader(mem, 1, 0)}
	j, err := Start(context.Background(), []byte(scanPlan), []array.RecordReader{r}, mem)
	if err != nil {
		t.Fatal(err)
	}
	err = waitEnd(t, j)
	if rberr.KindOf(err) != rberr.Internal || !strings.Contains(err.Error(), "panic reading input stream 0: producer bug") {
		t.Fatalf("want an internal error naming the panic, got %v", err)
	}
	if r.refs.Load() != 0 {
		t.Fatalf("the stream was not released, refs = %d", r.refs.Load())
	}
	mem.AssertSize(t, 0)
}
