package state

import (
	"fmt"
	"net/url"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Portable snapshot files: one Arrow IPC file per table and key-group range, at
// op-<operator id>/kg-<start>-<end>/t-<table>.arrow, with columns
//
//	key_group int32, key <Key>, [user_key <UserKey>,] value <Value>, expires_at int64 (null: never)
//
// where <X> is the declared Arrow type of the encoding, or binary for opaque bytes. Lists
// have one row per element, in list order. Expiry times are absolute (Unix ms).
// The schema metadata names the table and its kind.

const snapshotBatchRows = 64 << 10

// HandleDir is the directory, relative to a checkpoint, of the state files of operator
// opID for key groups [lo, hi).
func HandleDir(opID string, lo, hi int) string {
	return fmt.Sprintf("op-%s/kg-%d-%d", url.PathEscape(opID), lo, hi)
}

func encType(e Encoding) arrow.DataType {
	if e.Type == nil {
		return arrow.BinaryTypes.Binary
	}
	return e.Type
}

func tableSchema(s *TableSpec) *arrow.Schema {
	fields := []arrow.Field{
		{Name: "key_group", Type: arrow.PrimitiveTypes.Int32},
		{Name: "key", Type: encType(s.Key)},
	}
	if s.Kind == Map {
		fields = append(fields, arrow.Field{Name: "user_key", Type: encType(s.UserKey)})
	}
	fields = append(fields,
		arrow.Field{Name: "value", Type: encType(s.Value)},
		arrow.Field{Name: "expires_at", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	keys, vals := []string{"riverbed.state.table", "riverbed.state.kind"}, []string{s.Name, s.Kind.String()}
	if s.Rows {
		keys, vals = append(keys, valueFormatKey), append(vals, valueFormatRows)
	}
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &md)
}

// ScanFunc visits the live entries of table t in key group kg at time now, with their
// expiry (0: never), as a backend's own scan does.
type ScanFunc func(t Table, kg int, now int64, fn func(key, sub []byte, exp int64, v []byte) error) error

// WriteArrowSnapshot writes every table of the owned key groups as Arrow IPC files and
// records one FormatArrow handle: the portable format every backend can write (and must,
// for savepoints) and every backend restores.
func WriteArrowSnapshot(w *Writer, opID string, ts *TableSet, scan ScanFunc) error {
	lo, hi := ts.KeyGroups()
	dir := HandleDir(opID, lo, hi)
	now := ts.opts.Clock.NowMillis()
	h := StateHandle{KeyGroupStart: lo, KeyGroupEnd: hi, Format: FormatArrow}
	for ti := range ts.opts.Tables {
		spec := &ts.opts.Tables[ti]
		rel := dir + "/t-" + url.PathEscape(spec.Name) + ".arrow"
		if err := writeTableFile(w, rel, spec, Table(ti), lo, hi, now, scan); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "snapshot of operator %q, table %q", opID, spec.Name)
		}
		h.Files = append(h.Files, rel)
	}
	w.AddStateHandle(opID, h)
	return nil
}

func writeTableFile(w *Writer, rel string, spec *TableSpec, t Table, lo, hi int, now int64, scan ScanFunc) error {
	schema := tableSchema(spec)
	fw, err := w.Create(rel)
	if err != nil {
		return err
	}
	iw, err := ipc.NewFileWriter(fw, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		fw.Abort()
		return rberr.Wrap(rberr.IO, err, "write %s", rel)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	vcol := 2
	if spec.Kind == Map {
		vcol = 3
	}
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		rec := rb.NewRecordBatch()
		defer rec.Release()
		rows = 0
		return iw.Write(rec)
	}
	for kg := lo; kg < hi; kg++ {
		err := scan(t, kg, now, func(key, sub []byte, exp int64, v []byte) error {
			rb.Field(0).(*array.Int32Builder).Append(int32(kg))
			if err := appendDecoded(rb.Field(1), key); err != nil {
				return rberr.New(rberr.InvalidArgument, "key does not match its declared encoding: %v", err)
			}
			if spec.Kind == Map {
				if err := appendDecoded(rb.Field(2), sub); err != nil {
					return rberr.New(rberr.InvalidArgument, "user key does not match its declared encoding: %v", err)
				}
			}
			if err := appendDecoded(rb.Field(vcol), v); err != nil {
				return rberr.New(rberr.InvalidArgument, "value does not match its declared encoding: %v", err)
			}
			eb := rb.Field(vcol + 1).(*array.Int64Builder)
			if exp == 0 {
				eb.AppendNull()
			} else {
				eb.Append(exp)
			}
			rows++
			if rows >= snapshotBatchRows {
				return flush()
			}
			return nil
		})
		if err != nil {
			iw.Close()
			fw.Abort()
			return err
		}
	}
	if err := flush(); err != nil {
		iw.Close()
		fw.Abort()
		return rberr.Wrap(rberr.IO, err, "write %s", rel)
	}
	if err := iw.Close(); err != nil {
		fw.Abort()
		return rberr.Wrap(rberr.IO, err, "write %s", rel)
	}
	return fw.Commit()
}

// Loader receives restored entries: a backend being restored.
type Loader interface {
	// Load inserts one entry (list elements arrive in list order) with its expiry.
	Load(t Table, kg int, key, sub []byte, exp int64, v []byte) error
	// FlushLoad is called once after the last Load.
	FlushLoad() error
}

// RestoreInto loads the owned key groups of operator opID from the state handles of cps
// into ld (a backend's Restore). The handles that overlap the owned range must cover each
// owned key group exactly once. Formats other than FormatArrow are read by the
// HandleReader registered for them.
func RestoreInto(cps []*Checkpoint, opID string, ts *TableSet, ld Loader) error {
	lo, hi := ts.KeyGroups()
	covered := make([]bool, hi-lo)
	any := false
	now := ts.opts.Clock.NowMillis()
	for _, cp := range cps {
		if cp.Manifest.Job.MaxParallelism != ts.opts.MaxParallelism {
			return rberr.New(rberr.Plan, "cannot restore operator %q from %s: it was taken with max parallelism %d, the job has %d (max parallelism is fixed for the life of a job)",
				opID, cp.Dir, cp.Manifest.Job.MaxParallelism, ts.opts.MaxParallelism)
		}
		op := cp.Manifest.Operator(opID)
		if op == nil {
			continue
		}
		for _, h := range op.Handles {
			if h.Format == FormatTimers {
				continue
			}
			a, b := max(lo, h.KeyGroupStart), min(hi, h.KeyGroupEnd)
			if a >= b {
				continue
			}
			for kg := a; kg < b; kg++ {
				if covered[kg-lo] {
					return rberr.New(rberr.Data, "cannot restore operator %q: key group %d has state in more than one snapshot handle", opID, kg)
				}
				covered[kg-lo] = true
			}
			any = true
			var err error
			switch h.Format {
			case FormatArrow:
				err = restoreArrowHandle(cp, h, opID, ts, ld, a, b, now)
			default:
				read := handleReader(h.Format)
				if read == nil && h.Format == FormatPebble {
					return rberr.New(rberr.InvalidArgument, "cannot restore operator %q from %s: its state is a Pebble checkpoint, and the Pebble backend is not linked into this program (import %s)",
						opID, cp.Dir, pebblePackage)
				}
				if read == nil {
					return rberr.New(rberr.Data, "cannot restore operator %q from %s: unknown state format %q", opID, cp.Dir, h.Format)
				}
				err = read(cp, h, opID, ts, ld, a, b, now)
			}
			if err != nil {
				return err
			}
		}
	}
	if any {
		for i, c := range covered {
			if !c {
				return rberr.New(rberr.Data, "cannot restore operator %q: key group %d has no state in the given snapshots", opID, lo+i)
			}
		}
	}
	return ld.FlushLoad()
}

func restoreArrowHandle(cp *Checkpoint, h StateHandle, opID string, ts *TableSet, ld Loader, a, b int, now int64) error {
	for _, rel := range h.Files {
		if err := restoreArrowFile(cp, rel, opID, ts, ld, a, b, now); err != nil {
			return err
		}
	}
	return nil
}

func restoreArrowFile(cp *Checkpoint, rel, opID string, ts *TableSet, ld Loader, a, b int, now int64) error {
	path := cp.Path(rel)
	bad := func(format string, args ...any) error {
		return rberr.New(rberr.Data, "cannot restore operator %q from %s: %s", opID, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "open %s", path)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return bad("not an Arrow IPC file: %v", err)
	}
	defer r.Close()
	md := r.Schema().Metadata()
	ti, ki := md.FindKey("riverbed.state.table"), md.FindKey("riverbed.state.kind")
	if ti < 0 || ki < 0 {
		return bad("missing table metadata")
	}
	name, kindName := md.Values()[ti], md.Values()[ki]
	t, ok := ts.Table(name)
	if !ok {
		return bad("the snapshot has state table %q, which the operator does not declare", name)
	}
	spec := &ts.opts.Tables[t]
	if kindName != spec.Kind.String() {
		return bad("table %q is a %s table in the snapshot but is declared as %s", name, kindName, spec.Kind)
	}
	want := tableSchema(spec)
	if !r.Schema().Equal(want) {
		return bad("table %q has columns %v in the snapshot but the declaration needs %v", name, r.Schema().Fields(), want.Fields())
	}
	vcol := 2
	if spec.Kind == Map {
		vcol = 3
	}
	var kbuf, sbuf, vbuf []byte
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return bad("record batch %d: %v", i, err)
		}
		kgs := rec.Column(0).(*array.Int32)
		exps := rec.Column(vcol + 1).(*array.Int64)
		for row := 0; row < int(rec.NumRows()); row++ {
			kg := int(kgs.Value(row))
			if kg < a || kg >= b {
				continue
			}
			var exp int64
			if !exps.IsNull(row) {
				exp = exps.Value(row)
				if Expired(exp, now) {
					continue
				}
			}
			if kbuf, err = EncodeValue(kbuf[:0], rec.Column(1), row); err != nil {
				return bad("row %d of batch %d: %v", row, i, err)
			}
			sbuf = sbuf[:0]
			if spec.Kind == Map {
				if sbuf, err = EncodeValue(sbuf, rec.Column(2), row); err != nil {
					return bad("row %d of batch %d: %v", row, i, err)
				}
			}
			if vbuf, err = EncodeValue(vbuf[:0], rec.Column(vcol), row); err != nil {
				return bad("row %d of batch %d: %v", row, i, err)
			}
			if err := ld.Load(t, kg, kbuf, sbuf, exp, vbuf); err != nil {
				return err
			}
		}
	}
	return nil
}
