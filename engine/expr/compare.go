package expr

import (
	"bytes"
	"cmp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// CompareRows orders two rows of batches of one schema by their columns in schema order.
func CompareRows(a arrow.RecordBatch, i int, b arrow.RecordBatch, j int) int {
	for k := 0; k < int(a.NumCols()); k++ {
		if c := compareCells(a.Column(k), i, b.Column(k), j); c != 0 {
			return c
		}
	}
	return 0
}

// CompareCells orders cells a[i] and b[j] of one type as compareCells does.
func CompareCells(a arrow.Array, i int, b arrow.Array, j int) int { return compareCells(a, i, b, j) }

// compareCells orders two non-dictionary cells of the same type: negative if a[i] comes
// first. Nulls come last; floats order NaN first (cmp.Compare); decimals by value; types
// without a natural order compare by their text form, which is deterministic.
func compareCells(a arrow.Array, i int, b arrow.Array, j int) int {
	an, bn := a.IsNull(i), b.IsNull(j)
	if an || bn {
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		}
		return -1
	}
	switch x := a.(type) {
	case *array.Int8:
		return cmp.Compare(x.Value(i), b.(*array.Int8).Value(j))
	case *array.Int16:
		return cmp.Compare(x.Value(i), b.(*array.Int16).Value(j))
	case *array.Int32:
		return cmp.Compare(x.Value(i), b.(*array.Int32).Value(j))
	case *array.Int64:
		return cmp.Compare(x.Value(i), b.(*array.Int64).Value(j))
	case *array.Uint8:
		return cmp.Compare(x.Value(i), b.(*array.Uint8).Value(j))
	case *array.Uint16:
		return cmp.Compare(x.Value(i), b.(*array.Uint16).Value(j))
	case *array.Uint32:
		return cmp.Compare(x.Value(i), b.(*array.Uint32).Value(j))
	case *array.Uint64:
		return cmp.Compare(x.Value(i), b.(*array.Uint64).Value(j))
	case *array.Float32:
		return cmp.Compare(x.Value(i), b.(*array.Float32).Value(j))
	case *array.Float64:
		return cmp.Compare(x.Value(i), b.(*array.Float64).Value(j))
	case *array.Timestamp:
		return cmp.Compare(x.Value(i), b.(*array.Timestamp).Value(j))
	case *array.Date32:
		return cmp.Compare(x.Value(i), b.(*array.Date32).Value(j))
	case *array.Date64:
		return cmp.Compare(x.Value(i), b.(*array.Date64).Value(j))
	case *array.Time32:
		return cmp.Compare(x.Value(i), b.(*array.Time32).Value(j))
	case *array.Time64:
		return cmp.Compare(x.Value(i), b.(*array.Time64).Value(j))
	case *array.Duration:
		return cmp.Compare(x.Value(i), b.(*array.Duration).Value(j))
	case *array.String:
		return strings.Compare(x.Value(i), b.(*array.String).Value(j))
	case *array.LargeString:
		return strings.Compare(x.Value(i), b.(*array.LargeString).Value(j))
	case *array.Binary:
		return bytes.Compare(x.Value(i), b.(*array.Binary).Value(j))
	case *array.LargeBinary:
		return bytes.Compare(x.Value(i), b.(*array.LargeBinary).Value(j))
	case *array.Decimal128: // one type: one scale
		return x.Value(i).Cmp(b.(*array.Decimal128).Value(j))
	case *array.Decimal256:
		return x.Value(i).Cmp(b.(*array.Decimal256).Value(j))
	case *array.Float16:
		return cmp.Compare(x.Value(i).Float32(), b.(*array.Float16).Value(j).Float32())
	case *array.Boolean:
		xv, yv := x.Value(i), b.(*array.Boolean).Value(j)
		switch {
		case xv == yv:
			return 0
		case !xv:
			return -1
		}
		return 1
	}
	return strings.Compare(a.ValueStr(i), b.ValueStr(j))
}
