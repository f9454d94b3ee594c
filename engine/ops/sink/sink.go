package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// writeOp writes its subtask's batches to in-progress Parquet files. The job commits all
// writers (renames the files into place) only once every subtask has finished without
// error, and aborts them otherwise, so a failed job leaves no partial output.
type WriteParquetOp struct {
	runtime.BaseOp
	Dir     string
	Schema  *arrow.Schema
	Subtask int
	w       *batch.ParquetWriter
	tc      *runtime.TaskCtx
}

func (o *WriteParquetOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	prefix := fmt.Sprintf("part-%s-%05d", tc.Job.ID, o.Subtask)
	w, err := batch.NewParquetWriter(o.Dir, prefix, o.Schema, tc.Eval.Mem, 0)
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

// CheckOutputDir applies the write mode before the job starts: "error" refuses a
// directory that already holds Parquet files, "append" adds to it (refusing data whose
// schema differs from the files', which would make the directory unreadable as one
// dataset), "overwrite" removes the old files after the new ones are committed. It returns
// the files to remove and whether files stay besides the job's.
func CheckOutputDir(dir, mode string, schema *arrow.Schema) ([]string, bool, error) {
	var existing []string
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, false, rberr.Wrap(rberr.IO, err, "write_parquet: cannot read output directory %q", dir)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".parquet") {
			existing = append(existing, filepath.Join(dir, e.Name()))
		}
	}
	switch mode {
	case "", "error":
		if len(existing) > 0 {
			return nil, false, rberr.New(rberr.IO, "write_parquet: output directory %q already holds %d Parquet file(s); pass mode=\"overwrite\" to replace them or mode=\"append\" to add to them", dir, len(existing))
		}
		return nil, false, nil
	case "append":
		if err := batch.CheckAppend(existing, schema); err != nil {
			return nil, false, rberr.Wrap(rberr.KindOf(err), err, "write_parquet(mode=\"append\") into %q", dir)
		}
		return nil, len(existing) > 0, nil
	case "overwrite":
		return existing, false, nil
	}
	return nil, false, rberr.New(rberr.Plan, "write_parquet: unknown mode %q (expected \"error\", \"append\" or \"overwrite\")", mode)
}
