package batch

import (
	"bytes"
	"encoding/base64"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// arrowSchemaKey is the footer key-value metadata key under which Arrow
// writers (pyarrow, arrow-go, Polars, and riverbed's own writer) store the
// Arrow schema of the data, serialized as an IPC schema message in base64. It
// restores what Parquet's types cannot say: a timestamp's time zone name,
// seconds stored as milliseconds, large_string and large_binary and
// durations.
const arrowSchemaKey = "ARROW:schema"

// restoreKind is a conversion from the values of a column's Parquet type to
// the Arrow type restored from the ARROW:schema metadata.
type restoreKind uint8

const (
	restoreNone restoreKind = iota
	// restoreSecondsFromMillis: timestamp[s] stored as milliseconds.
	restoreSecondsFromMillis
)

// originSchema decodes the file's ARROW:schema metadata, or returns nil if it
// has none or it cannot be decoded (the Parquet types are then used, as
// pyarrow does).
func originSchema(pf *parquet.File) *arrow.Schema {
	v, ok := pf.Lookup(arrowSchemaKey)
	if !ok || v == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return nil
		}
	}
	return decodeIPCSchema(raw)
}

func decodeIPCSchema(raw []byte) (s *arrow.Schema) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	r, err := ipc.NewReader(bytes.NewReader(raw), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil
	}
	defer r.Release()
	return r.Schema()
}

// encodeIPCSchema serializes schema for the ARROW:schema metadata.
func encodeIPCSchema(schema *arrow.Schema) (string, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// restoreType returns the Arrow type of a column whose Parquet type maps to
// inferred and whose writer recorded origin, and the conversion of its values.
// Like pyarrow, it only restores what the stored values can represent
// exactly; otherwise the Parquet type wins. As pyarrow does, a dictionary of
// strings or binaries (of any index type, ordered or not) is restored as a
// dictionary of the Parquet column's string or binary type (so a dictionary
// of large_string comes back as a dictionary of string); dictionaries of
// other value types are read as their values, and date64 as date32. Unlike
// pyarrow, a timestamp[s] stored as milliseconds is read back as timestamp[s].
func restoreType(inferred, origin arrow.DataType) (arrow.DataType, restoreKind) {
	if o, ok := origin.(*arrow.DictionaryType); ok {
		switch o.ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
			if (inferred.ID() == arrow.STRING || inferred.ID() == arrow.BINARY) && arrow.IsInteger(o.IndexType.ID()) {
				return &arrow.DictionaryType{IndexType: o.IndexType, ValueType: inferred, Ordered: o.Ordered}, restoreNone
			}
		}
		return inferred, restoreNone
	}
	switch o := origin.(type) {
	case *arrow.TimestampType:
		it, ok := inferred.(*arrow.TimestampType)
		if !ok {
			break
		}
		// A stored time zone means the values are UTC-normalized (Parquet's
		// isAdjustedToUTC); the zone's name lives only in the metadata.
		if (o.TimeZone != "") != (it.TimeZone != "") {
			break
		}
		if o.Unit == arrow.Second && it.Unit == arrow.Millisecond {
			return o, restoreSecondsFromMillis
		}
		// The zone is restored in the stored unit (which may be coarser
		// than the original's if the writer coerced it), as pyarrow does.
		return &arrow.TimestampType{Unit: it.Unit, TimeZone: o.TimeZone}, restoreNone
	case *arrow.LargeStringType:
		if inferred.ID() == arrow.STRING {
			return o, restoreNone
		}
	case *arrow.LargeBinaryType:
		if inferred.ID() == arrow.BINARY {
			return o, restoreNone
		}
	case *arrow.DurationType:
		if inferred.ID() == arrow.INT64 {
			return o, restoreNone
		}
	}
	return inferred, restoreNone
}
