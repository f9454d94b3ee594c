package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <malloc.h>

// rb_tune_malloc sets glibc's thresholds (a value <= 0 leaves one as it is); elsewhere it
// does nothing.
static void rb_tune_malloc(int mmap_threshold, int trim_threshold) {
#if defined(__GLIBC__)
	if (mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, mmap_threshold);
	if (trim_threshold > 0) mallopt(M_TRIM_THRESHOLD, trim_threshold);
#endif
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/arrowbridge"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Version is the engine version reported by rb_version.
const Version = "0.1.0"

var cVersion = C.CString(Version)

// mem allocates all Arrow memory the engine hands out, outside the Go heap, so that
// buffers exported to C stay valid after a call returns and are counted.
var mem = newCAllocator()

// glibc serves an allocation of a batch's buffers (megabytes for a Parquet row group's
// column) with fresh pages from the kernel and returns them on free: every batch then
// pays a page fault per 4 KiB, which took a third of a Parquet group-by's CPU time. Freed
// buffers stay in the allocator's heap instead, up to 128 MiB of free memory at its top
// (beyond it is given back). A user's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
// are left alone.
func init() {
	mmap, trim := C.int(64<<20), C.int(128<<20)
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") != "" {
		mmap = 0
	}
	if os.Getenv("MALLOC_TRIM_THRESHOLD_") != "" {
		trim = 0
	}
	C.rb_tune_malloc(mmap, trim)
}

var (
	jobsMu  sync.Mutex
	jobs    = map[uint64]*jobEntry{}
	nextJob atomic.Uint64
	// poisoned holds the message of a panic in an API call; afterwards every call fails.
	poisoned atomic.Pointer[string]
)

type jobEntry struct {
	job      *engine.Job
	exported bool // its results are taken (as a stream, or by rb_job_next)
	nexting  bool // its results are read with rb_job_next (rb_job_free closes the job)
}

func main() {}

// call is the skeleton of every exported function. A panic fails the call with
// RB_INTERNAL and, as the library's state may then be inconsistent, makes every later
// call fail too.
func call(errOut **C.char, fn func() error) (status C.int32_t) {
	return callWith(errOut, true, fn)
}

// callPure is call for functions that change no state of the library (validating a
// plan): a panic fails only that call.
func callPure(errOut **C.char, fn func() error) (status C.int32_t) {
	return callWith(errOut, false, fn)
}

func callWith(errOut **C.char, poison bool, fn func() error) (status C.int32_t) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("riverbed internal error (please report this bug): panic: %v\n%s", r, debug.Stack())
			if poison {
				poisoned.CompareAndSwap(nil, &msg)
			}
			status = setErr(errOut, rberr.New(rberr.Internal, "%s", msg))
		}
	}()
	if p := poisoned.Load(); p != nil {
		return setErr(errOut, rberr.New(rberr.Internal, "riverbed cannot be used after an internal error; restart the process. The error was: %s", *p))
	}
	return setErr(errOut, fn())
}

// inputList is the list of n input pointers at ptrs (nil if the list is malformed).
func inputList(ptrs **C.void, n C.int32_t) []unsafe.Pointer {
	if n <= 0 || ptrs == nil {
		return nil
	}
	return unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(ptrs)), int(n))
}

func setErr(errOut **C.char, err error) C.int32_t {
	if err == nil {
		return 0
	}
	if errOut != nil {
		*errOut = C.CString(err.Error())
	}
	return C.int32_t(rberr.KindOf(err))
}

func lookup(h C.uint64_t) (*jobEntry, error) {
	jobsMu.Lock()
	defer jobsMu.Unlock()
	e, ok := jobs[uint64(h)]
	if !ok {
		return nil, rberr.New(rberr.InvalidArgument, "no job with handle %d (already freed?)", uint64(h))
	}
	return e, nil
}

func importSchemas(ptrs **C.void, n C.int32_t) ([]*arrow.Schema, error) {
	if n < 0 || (n > 0 && ptrs == nil) {
		return nil, rberr.New(rberr.InvalidArgument, "bad input list")
	}
	list := unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(ptrs)), int(n))
	out := make([]*arrow.Schema, n)
	var firstErr error
	for i, p := range list {
		s, err := arrowbridge.ImportSchema(p)
		if err != nil && firstErr == nil {
			firstErr = rberr.Wrap(rberr.InvalidArgument, err, "input %d: bad schema", i)
		}
		out[i] = s
	}
	return out, firstErr
}

// releaseSchemas releases the input schemas that were not imported (moved).
func releaseSchemas(ptrs **C.void, n C.int32_t) {
	for _, p := range inputList(ptrs, n) {
		arrowbridge.ReleaseSchema(p)
	}
}

//export rb_version
func rb_version() *C.char { return cVersion }

//export rb_plan_version
func rb_plan_version() C.int32_t { return engine.PlanVersion }

//export rb_free_string
func rb_free_string(s *C.char) {
	if s != nil {
		C.free(unsafe.Pointer(s))
	}
}

//export rb_allocated_bytes
func rb_allocated_bytes() C.int64_t { return C.int64_t(mem.AllocatedBytes()) }

//export rb_plan_schema
func rb_plan_schema(plan *C.char, inputs **C.void, n C.int32_t, out unsafe.Pointer, errOut **C.char) C.int32_t {
	defer releaseSchemas(inputs, n)
	return callPure(errOut, func() error {
		schemas, err := importSchemas(inputs, n)
		if err != nil {
			return err
		}
		if plan == nil || out == nil {
			return rberr.New(rberr.InvalidArgument, "null plan or output pointer")
		}
		p, err := engine.ParsePlan([]byte(C.GoString(plan)))
		if err != nil {
			return err
		}
		s, err := engine.OutputSchema(p, schemas)
		if err != nil {
			return err
		}
		arrowbridge.ExportSchema(s, out)
		return nil
	})
}

//export rb_plan_explain
func rb_plan_explain(plan *C.char, inputs **C.void, n C.int32_t, textOut **C.char, errOut **C.char) C.int32_t {
	defer releaseSchemas(inputs, n)
	return callPure(errOut, func() error {
		schemas, err := importSchemas(inputs, n)
		if err != nil {
			return err
		}
		if plan == nil || textOut == nil {
			return rberr.New(rberr.InvalidArgument, "null plan or output pointer")
		}
		text, err := engine.Explain([]byte(C.GoString(plan)), schemas)
		if err != nil {
			return err
		}
		*textOut = C.CString(text)
		return nil
	})
}

//export rb_job_start
func rb_job_start(plan *C.char, inputs **C.void, n C.int32_t, jobOut *C.uint64_t, errOut **C.char) C.int32_t {
	// Inputs are moved on every path (refused call, error, panic): whatever was not
	// imported is released here (a no-op for the structs already moved).
	defer func() {
		for _, p := range inputList(inputs, n) {
			arrowbridge.ReleaseStream(p)
		}
	}()
	return call(errOut, func() error {
		if n < 0 || (n > 0 && inputs == nil) {
			return rberr.New(rberr.InvalidArgument, "bad input list")
		}
		list := unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(inputs)), int(n))
		readers := make([]array.RecordReader, 0, n)
		var importErr error
		for i, p := range list {
			r, err := arrowbridge.ImportStream(p)
			if err != nil {
				if importErr == nil {
					importErr = rberr.Wrap(rberr.InvalidArgument, err, "input %d: cannot import the Arrow stream", i)
				}
				continue
			}
			readers = append(readers, r)
		}
		if importErr != nil || plan == nil || jobOut == nil {
			for _, r := range readers {
				r.Release()
			}
			if importErr != nil {
				return importErr
			}
			return rberr.New(rberr.InvalidArgument, "null plan or job pointer")
		}
		job, err := engine.Start(context.Background(), []byte(C.GoString(plan)), readers, mem)
		if err != nil {
			return err
		}
		id := nextJob.Add(1)
		jobsMu.Lock()
		jobs[id] = &jobEntry{job: job}
		jobsMu.Unlock()
		*jobOut = C.uint64_t(id)
		return nil
	})
}

//export rb_job_results
func rb_job_results(h C.uint64_t, out unsafe.Pointer, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if out == nil {
			return rberr.New(rberr.InvalidArgument, "null stream pointer")
		}
		jobsMu.Lock()
		already := e.exported
		e.exported = true
		jobsMu.Unlock()
		if already {
			return rberr.New(rberr.InvalidArgument, "the results of job %d were already taken", uint64(h))
		}
		arrowbridge.ExportStream(newResultReader(e.job), out)
		return nil
	})
}

//export rb_job_next
func rb_job_next(h C.uint64_t, outputOut *C.int32_t, arrayOut, schemaOut unsafe.Pointer, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if outputOut == nil || arrayOut == nil || schemaOut == nil {
			return rberr.New(rberr.InvalidArgument, "null output, array or schema pointer")
		}
		jobsMu.Lock()
		streamed := e.exported && !e.nexting
		e.exported, e.nexting = true, true
		jobsMu.Unlock()
		if streamed {
			return rberr.New(rberr.InvalidArgument, "the results of job %d are read as a stream (rb_job_results); rb_job_next cannot read them too", uint64(h))
		}
		rec, out, err := e.job.NextOutput()
		if err == io.EOF {
			*outputOut = -1
			return nil
		}
		if err != nil {
			return err
		}
		defer rec.Release()
		*outputOut = C.int32_t(out)
		arrowbridge.ExportRecordBatch(rec, arrayOut, schemaOut)
		return nil
	})
}

//export rb_job_progress
func rb_job_progress(h C.uint64_t, out *C.int64_t, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if out == nil {
			return rberr.New(rberr.InvalidArgument, "null output pointer")
		}
		p := e.job.Progress()
		done := int64(0)
		if p.Done {
			done = 1
		}
		vals := []int64{p.RowsRead, p.RowsOut, p.SplitsDone, p.SplitsPruned, p.FilesDone, p.TotalRows, p.TotalSplits, p.TotalFiles, done}
		dst := unsafe.Slice((*int64)(unsafe.Pointer(out)), len(vals))
		copy(dst, vals)
		return nil
	})
}

//export rb_job_error
func rb_job_error(h C.uint64_t, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		return e.job.Err()
	})
}

//export rb_job_cancel
func rb_job_cancel(h C.uint64_t, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		e.job.Cancel()
		return nil
	})
}

//export rb_job_stop
func rb_job_stop(h C.uint64_t, drain C.int32_t, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		e.job.Stop(drain != 0)
		return nil
	})
}

//export rb_job_metrics
func rb_job_metrics(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null output pointer")
		}
		doc, err := json.Marshal(map[string]any{"operators": e.job.Metrics(), "unbounded": e.job.Unbounded(),
			"checkpoints": e.job.CheckpointCounters()})
		if err != nil {
			return err
		}
		*jsonOut = C.CString(string(doc))
		return nil
	})
}

//export rb_job_free
func rb_job_free(h C.uint64_t, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		jobsMu.Lock()
		e, ok := jobs[uint64(h)]
		delete(jobs, uint64(h))
		jobsMu.Unlock()
		if !ok {
			return rberr.New(rberr.InvalidArgument, "no job with handle %d (already freed?)", uint64(h))
		}
		if !e.exported || e.nexting {
			e.job.Close()
		}
		return nil
	})
}

// resultReader adapts a job to array.RecordReader for export as an ArrowArrayStream.
// Releasing it (the consumer releasing the stream) closes the job.
type resultReader struct {
	refs atomic.Int64
	job  *engine.Job
	cur  arrow.RecordBatch
	err  error
}

func newResultReader(j *engine.Job) *resultReader {
	r := &resultReader{job: j}
	r.refs.Store(1)
	return r
}

func (r *resultReader) Retain() { r.refs.Add(1) }
func (r *resultReader) Release() {
	if r.refs.Add(-1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.job.Close()
	}
}
func (r *resultReader) Schema() *arrow.Schema          { return r.job.Schema() }
func (r *resultReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *resultReader) Record() arrow.RecordBatch      { return r.cur }
func (r *resultReader) Err() error                     { return r.err }
func (r *resultReader) Next() (ok bool) {
	// Next runs in a callback of the exported stream, called from C: a panic must not
	// unwind into the caller.
	defer func() {
		if p := recover(); p != nil {
			r.err = rberr.New(rberr.Internal, "panic reading the results: %v\n%s", p, debug.Stack())
			r.cur, ok = nil, false
			r.job.Cancel()
		}
	}()
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec, err := r.job.Next()
	if err == io.EOF {
		return false
	}
	if err != nil {
		r.err = err
		return false
	}
	r.cur = rec
	return true
}
