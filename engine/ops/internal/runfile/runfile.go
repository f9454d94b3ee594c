package runfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Files are the runs an operator subtask wrote, one Arrow IPC stream file each, in a
// directory of its own (made at the first run, in Dir: the job's working directory),
// named as the spill stores' are (riverbed-spill-<pid>-...), so that the directory of a
// process that died before removing it is removed as theirs are (a later job's spill
// store in the same working directory removes the orphans). A nil *Files has no runs.
type Files struct {
	Op      string // the operator, for errors and the directory's name
	What    string // what a run holds, for errors ("a sorted run")
	Dir     string
	Mem     memory.Allocator
	Metrics *runtime.SpillMetrics // written and read bytes, or nil
	own     string                // the directory made for the runs ("" until the first)
	paths   []string
	made    int        // runs written, for their file names
	files   []*os.File // open for reading
	Written int64
	Read    int64
}

// Count is the number of runs.
func (r *Files) Count() int {
	if r == nil {
		return 0
	}
	return len(r.paths)
}

// Write writes a run of the batches next returns (each released), until it returns nil.
func (r *Files) Write(schema *arrow.Schema, next func() (arrow.RecordBatch, error)) error {
	return r.WriteFrom(schema, func(add func(arrow.RecordBatch) error) error {
		for {
			rec, err := next()
			if err != nil || rec == nil {
				return err
			}
			if err := add(rec); err != nil {
				return err
			}
		}
	})
}

// WriteFrom writes a run of the batches produce gives to add (which releases them).
func (r *Files) WriteFrom(schema *arrow.Schema, produce func(add func(arrow.RecordBatch) error) error) (err error) {
	if r.own == "" {
		if r.Dir != "" {
			if err := os.MkdirAll(r.Dir, 0o755); err != nil {
				return rberr.Wrap(rberr.IO, err, "%s: cannot make the working directory for %s; check the checkpoint_dir", r.Op, r.what())
			}
		}
		if r.own, err = os.MkdirTemp(r.Dir, fmt.Sprintf("riverbed-spill-%d-%s-", os.Getpid(), r.Op)); err != nil {
			return rberr.Wrap(rberr.IO, err, "%s: cannot make a directory for %s", r.Op, r.what())
		}
	}
	path := filepath.Join(r.own, fmt.Sprintf("run-%06d.arrows", r.made))
	r.made++
	f, err := os.Create(path)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "%s: cannot write %s to disk", r.Op, r.what())
	}
	r.paths = append(r.paths, path) // removed with the directory, even if incomplete
	bw := bufio.NewWriterSize(f, 1<<20)
	w := ipc.NewWriter(bw, ipc.WithSchema(schema), ipc.WithAllocator(r.Mem))
	fail := func(e error) error {
		_ = w.Close()
		_ = f.Close()
		return rberr.Wrap(rberr.IO, e, "%s: cannot write %s to disk (is the disk full?)", r.Op, r.what())
	}
	var werr error
	err = produce(func(rec arrow.RecordBatch) error {
		werr = w.Write(rec)
		rec.Release()
		return werr
	})
	if werr != nil {
		return fail(werr)
	}
	if err != nil {
		_ = w.Close()
		_ = f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	info, err := f.Stat()
	if err == nil {
		err = f.Close()
	} else {
		_ = f.Close()
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "%s: cannot write %s to disk", r.Op, r.what())
	}
	r.Written += info.Size()
	if r.Metrics != nil {
		r.Metrics.Written.Add(info.Size())
	}
	return nil
}

func (r *Files) what() string {
	if r.What == "" {
		return "a run"
	}
	return r.What
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
	m *runtime.SpillMetrics
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if c.m != nil {
		c.m.Read.Add(int64(n))
	}
	return n, err
}

// Source returns the next batch of a run (the caller owns it), or nil after the last.
type Source func() (arrow.RecordBatch, error)

// Open opens every run for reading, a batch at a time; a run's file is closed after its
// last batch (or by CloseFiles, or when the directory is removed).
func (r *Files) Open() ([]Source, error) { return r.OpenFirst(r.Count()) }

// ReplaceFirst removes the first k runs (merged into the last one written, which takes
// their place).
func (r *Files) ReplaceFirst(k int) {
	r.CloseFiles()
	for _, p := range r.paths[:k] {
		_ = os.Remove(p)
	}
	last := r.paths[len(r.paths)-1]
	r.paths = append([]string{last}, r.paths[k:len(r.paths)-1]...)
}

// OpenFirst opens the first k runs for reading, as Open.
func (r *Files) OpenFirst(k int) ([]Source, error) {
	srcs := make([]Source, 0, k)
	for i := range k {
		src, err := r.OpenRun(i)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// OpenRun opens run i (in the order written) for reading, as Open.
func (r *Files) OpenRun(i int) (Source, error) {
	f, err := os.Open(r.paths[i])
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "%s: cannot read %s back", r.Op, r.what())
	}
	r.files = append(r.files, f)
	rd, err := ipc.NewReader(bufio.NewReaderSize(countingReader{f, &r.Read, r.Metrics}, 1<<20), ipc.WithAllocator(r.Mem))
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "%s: cannot read %s back", r.Op, r.what())
	}
	done := false
	return func() (arrow.RecordBatch, error) {
		if done {
			return nil, nil
		}
		if rd.Next() {
			rec := rd.RecordBatch()
			rec.Retain()
			return rec, nil
		}
		done = true
		err := rd.Err()
		rd.Release()
		_ = f.Close()
		if err != nil && err != io.EOF {
			return nil, rberr.Wrap(rberr.IO, err, "%s: cannot read %s back", r.Op, r.what())
		}
		return nil, nil
	}, nil
}

// RemoveRun deletes the file of run i (its place in the order stays, empty: it must not
// be opened again).
func (r *Files) RemoveRun(i int) {
	_ = os.Remove(r.paths[i])
}

// CloseFiles closes the runs opened for reading.
func (r *Files) CloseFiles() {
	for _, f := range r.files {
		_ = f.Close()
	}
	r.files = nil
}

// Remove closes and removes the runs. Nothing on nil.
func (r *Files) Remove() {
	if r == nil {
		return
	}
	r.CloseFiles()
	if r.own != "" {
		_ = os.RemoveAll(r.own)
	}
	r.files, r.paths, r.own = nil, nil, ""
}
