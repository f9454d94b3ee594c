package state

import (
	"bytes"
	"fmt"
	"os"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Reading a checkpoint or savepoint as Arrow tables, for people (rb.read_savepoint), not for
// restores: which operators hold which state tables, and each table's rows across all of
// its key-group files.

const (
	valueFormatKey  = "riverbed.state.value_format"
	valueFormatRows = "arrow-ipc-stream"
	// TimersTable is the name under which an operator's pending timers are listed.
	TimersTable = "_timers"
)

// SnapshotTable is one state table of one operator in a snapshot.
type SnapshotTable struct {
	Operator string `json:"operator"`
	Table    string `json:"table"`
	// Kind is "value", "list" or "map", or "timers".
	Kind string `json:"kind"`
	// Rows is true when the table's values are rows (decoded by ReadSnapshotTable).
	Rows  bool     `json:"rows"`
	Files []string `json:"files"`
}

// InspectSnapshot opens and verifies the checkpoint or savepoint in dir and lists its
// state tables, by operator id and table name.
func InspectSnapshot(dir string) (*Checkpoint, []SnapshotTable, error) {
	cp, err := OpenCheckpoint(dir)
	if err != nil {
		return nil, nil, err
	}
	byName := map[[2]string]*SnapshotTable{}
	var out []*SnapshotTable
	add := func(op, table, kind string, rows bool, file string) {
		k := [2]string{op, table}
		t := byName[k]
		if t == nil {
			t = &SnapshotTable{Operator: op, Table: table, Kind: kind, Rows: rows}
			byName[k] = t
			out = append(out, t)
		}
		t.Files = append(t.Files, file)
	}
	for _, op := range cp.Manifest.Operators {
		for _, h := range op.Handles {
			switch h.Format {
			case FormatArrow:
				for _, rel := range h.Files {
					md, err := snapshotFileMetadata(cp, rel)
					if err != nil {
						return nil, nil, err
					}
					add(op.ID, md.table, md.kind, md.rows, rel)
				}
			case FormatTimers:
				for _, rel := range h.Files {
					add(op.ID, TimersTable, "timers", false, rel)
				}
			case FormatPebble:
				return nil, nil, rberr.New(rberr.InvalidArgument,
					"%s holds operator %q's state in Pebble's own format, which only a restore reads; "+
						"take a savepoint (always portable Arrow files) to read state as tables", dir, op.ID)
			default:
				return nil, nil, rberr.New(rberr.Data, "%s: operator %q has state in an unknown format %q", dir, op.ID, h.Format)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Table < out[j].Table
	})
	res := make([]SnapshotTable, len(out))
	for i, t := range out {
		res[i] = *t
	}
	return cp, res, nil
}

type fileMeta struct {
	table, kind string
	rows        bool
}

func snapshotFileMetadata(cp *Checkpoint, rel string) (fileMeta, error) {
	f, err := os.Open(cp.Path(rel))
	if err != nil {
		return fileMeta{}, rberr.Wrap(rberr.IO, err, "open %s", cp.Path(rel))
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fileMeta{}, rberr.New(rberr.Data, "state file %s is not an Arrow IPC file: %v", cp.Path(rel), err)
	}
	defer r.Close()
	md := r.Schema().Metadata()
	ti, ki := md.FindKey("riverbed.state.table"), md.FindKey("riverbed.state.kind")
	if ti < 0 || ki < 0 {
		return fileMeta{}, rberr.New(rberr.Data, "state file %s has no table metadata", cp.Path(rel))
	}
	m := fileMeta{table: md.Values()[ti], kind: md.Values()[ki]}
	if vi := md.FindKey(valueFormatKey); vi >= 0 && md.Values()[vi] == valueFormatRows {
		m.rows = true
	}
	return m, nil
}

// ReadSnapshotTable returns every row of table of operator op in the snapshot cp (listed
// by InspectSnapshot), over all key groups, in key-group order. A table of rows gives the
// rows' own columns after a key_group column; other tables give their snapshot columns
// (key_group, key, [user_key,] value, expires_at); timers give domain, key_group, key,
// namespace and timestamp.
func ReadSnapshotTable(cp *Checkpoint, tables []SnapshotTable, op, table string) (array.RecordReader, error) {
	var st *SnapshotTable
	for i := range tables {
		if tables[i].Operator == op && tables[i].Table == table {
			st = &tables[i]
		}
	}
	if st == nil {
		return nil, rberr.New(rberr.NotFound, "%s has no state table %q of operator %q", cp.Dir, table, op)
	}
	mem := memory.DefaultAllocator
	var schema *arrow.Schema
	var recs []arrow.RecordBatch
	fail := func(err error) (array.RecordReader, error) {
		for _, r := range recs {
			r.Release()
		}
		return nil, err
	}
	for _, rel := range st.Files {
		path := cp.Path(rel)
		got, err := readIPCFile(path)
		if err != nil {
			return fail(err)
		}
		for _, rec := range got {
			out := []arrow.RecordBatch{rec}
			if st.Rows {
				out, err = decodeRowValues(rec, mem)
				rec.Release()
				if err != nil {
					return fail(rberr.Wrap(rberr.Data, err, "state file %s", path))
				}
			}
			for _, o := range out {
				if schema == nil {
					schema = o.Schema()
				} else if !schema.Equal(o.Schema()) {
					o.Release()
					return fail(rberr.New(rberr.Data, "state table %q of operator %q has rows of two schemas (%v and %v) in %s",
						table, op, schema, o.Schema(), path))
				}
				recs = append(recs, o)
			}
		}
	}
	if schema == nil {
		schema = arrow.NewSchema([]arrow.Field{{Name: "key_group", Type: arrow.PrimitiveTypes.Int32}}, nil)
	}
	rr, err := array.NewRecordReader(schema, recs)
	for _, r := range recs {
		r.Release()
	}
	if err != nil {
		return nil, rberr.Wrap(rberr.Internal, err, "state table %q of operator %q", table, op)
	}
	return rr, nil
}

func readIPCFile(path string) ([]arrow.RecordBatch, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "read %s", path)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, rberr.New(rberr.Data, "state file %s is not an Arrow IPC file: %v", path, err)
	}
	defer r.Close()
	var out []arrow.RecordBatch
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			for _, o := range out {
				o.Release()
			}
			return nil, rberr.New(rberr.Data, "state file %s, record batch %d: %v", path, i, err)
		}
		rec.Retain()
		out = append(out, rec)
	}
	return out, nil
}

// decodeRowValues turns a batch of a rows table (key_group, key, value = an IPC stream,
// expires_at) into the decoded rows, each batch led by its key group.
func decodeRowValues(rec arrow.RecordBatch, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	if rec.NumCols() < 3 {
		return nil, fmt.Errorf("a rows table needs key_group, key and value columns, got %v", rec.Schema())
	}
	kgs, ok := rec.Column(0).(*array.Int32)
	vals, ok2 := rec.Column(int(rec.NumCols()) - 2).(*array.Binary)
	if !ok || !ok2 {
		return nil, fmt.Errorf("a rows table needs int32 key groups and binary values, got %v", rec.Schema())
	}
	var out []arrow.RecordBatch
	release := func() {
		for _, o := range out {
			o.Release()
		}
	}
	for row := 0; row < vals.Len(); row++ {
		if vals.IsNull(row) {
			continue
		}
		r, err := ipc.NewReader(bytes.NewReader(vals.Value(row)), ipc.WithAllocator(mem))
		if err != nil {
			release()
			return nil, fmt.Errorf("row %d: the value is not an Arrow IPC stream: %v", row, err)
		}
		kg := kgs.Value(row)
		for r.Next() {
			inner := r.RecordBatch()
			n := int(inner.NumRows())
			b := array.NewInt32Builder(mem)
			for i := 0; i < n; i++ {
				b.Append(kg)
			}
			kcol := b.NewArray()
			b.Release()
			fields := append([]arrow.Field{{Name: "key_group", Type: arrow.PrimitiveTypes.Int32}}, inner.Schema().Fields()...)
			cols := append([]arrow.Array{kcol}, inner.Columns()...)
			md := inner.Schema().Metadata()
			out = append(out, array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, int64(n)))
			kcol.Release()
		}
		err = r.Err()
		r.Release()
		if err != nil {
			release()
			return nil, fmt.Errorf("row %d: %v", row, err)
		}
	}
	return out, nil
}
