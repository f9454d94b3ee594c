package sink

import (
	"fmt"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

func Writable(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16,
		arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.STRING, arrow.BINARY,
		arrow.DATE32, arrow.TIMESTAMP, arrow.LARGE_STRING, arrow.LARGE_BINARY, arrow.DURATION:
		return true
	case arrow.DECIMAL128:
		d := dt.(*arrow.Decimal128Type)
		return d.Scale >= 0 && d.Scale <= d.Precision
	case arrow.DICTIONARY:
		switch dt.(*arrow.DictionaryType).ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
			return true
		}
	}
	return false
}

// WriteParquetOp writes its subtask's batches to in-progress Parquet files, rolled by
// Rolling. Files become visible in one of two ways:
//
//   - at the end of the job: the job commits all writers (every subtask's files, and the
//     files an overwrite replaces, as one atomic commit) once every subtask has finished
//     without error, and aborts them otherwise, so a failed job leaves no partial output;
//   - at checkpoints, when the job takes them: the operator is a runtime.CheckpointHook
//     (checkpoint.go), whose files of a checkpoint become visible once it completes.
//
// Files are named part-<run>-<subtask>-<n>.parquet, run being the job's id (random for
// each run, restarts included), so no two runs, whatever their parallelism, name a file
// alike.
type WriteParquetOp struct {
	runtime.BaseOp
	Dir     string
	Schema  *arrow.Schema
	Subtask int
	Rolling batch.RollingPolicy
	// Text, if set, writes CSV or NDJSON files (write_csv, write_ndjson) in place of
	// Parquet; they are committed the same ways.
	Text *batch.TextWriteOptions
	w    *batch.FileWriter
	tc   *runtime.TaskCtx
	run  string

	mu      sync.Mutex
	pending []checkpointFiles // pre-committed at a checkpoint, not known to be committed, by id
}

// FilePrefix is the common prefix of the files of every write_parquet sink.
const FilePrefix = "part-"

func (o *WriteParquetOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.run = tc.Job.ID
	prefix := fmt.Sprintf("%s%s-%05d", FilePrefix, o.run, o.Subtask)
	var w *batch.FileWriter
	var err error
	if o.Text != nil {
		w, err = batch.NewRollingTextWriter(o.Dir, prefix, o.Schema, o.Rolling, *o.Text)
	} else {
		w, err = batch.NewRollingParquetWriter(o.Dir, prefix, o.Schema, o.Rolling)
	}
	if err != nil {
		return err
	}
	o.w = w
	tc.Job.AddWriter(o.Dir, w)
	return nil
}

func (o *WriteParquetOp) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	defer m.Rec.Release()
	if m.Rec.NumRows() == 0 {
		return nil
	}
	return o.w.Write(m.Rec)
}

func (o *WriteParquetOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

// CheckOutputDir applies the write mode before the job starts, for the sink op
// (write_parquet, write_csv or write_ndjson) writing files named *ext: "error" refuses a
// directory that already holds such files, "append" adds to it (refusing data whose
// schema differs from the files', which would make the directory unreadable as one
// dataset), "overwrite" removes the old files after the new ones are committed. It returns
// the files to remove and whether files stay besides the job's.
//
// It first completes any commit into dir that a crash interrupted (batch.RecoverCommits),
// so that the files it counts are the ones a finished commit left.
func CheckOutputDir(op, dir, mode string, schema *arrow.Schema) ([]string, bool, error) {
	files := batch.ParquetFiles
	switch op {
	case "write_csv":
		files = batch.CSVFiles
	case "write_ndjson":
		files = batch.NDJSONFiles
	}
	kind := files.Name
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, false, rberr.New(rberr.InvalidArgument, "%s: %q is a file; the output path names a directory, which the written files go into", op, dir)
	}
	if err := batch.RecoverCommits(dir); err != nil {
		return nil, false, rberr.Wrap(rberr.KindOf(err), err, "%s: cannot complete an interrupted commit in %q", op, dir)
	}
	// The files reading the directory reads, in subdirectories too: "error" refuses a
	// directory holding any, "overwrite" removes them all, so that reading it afterwards
	// gives exactly the rows written.
	existing, err := batch.FilesBelow(dir, files)
	if err != nil {
		return nil, false, rberr.Wrap(rberr.KindOf(err), err, "%s: cannot read output directory %q", op, dir)
	}
	switch mode {
	case "", "error":
		if len(existing) > 0 {
			return nil, false, rberr.New(rberr.IO, "%s: output directory %q already holds %d %s file(s); pass mode=\"overwrite\" to replace them or mode=\"append\" to add to them", op, dir, len(existing), kind)
		}
		return nil, false, nil
	case "append":
		check := batch.CheckAppend
		if op != "write_parquet" {
			check = batch.CheckAppendText
		}
		if err := check(existing, schema); err != nil {
			return nil, false, rberr.Wrap(rberr.KindOf(err), err, "%s(mode=\"append\") into %q", op, dir)
		}
		return nil, len(existing) > 0, nil
	case "overwrite":
		return existing, false, nil
	}
	return nil, false, rberr.New(rberr.Plan, "%s: unknown mode %q (expected \"error\", \"append\" or \"overwrite\")", op, mode)
}
