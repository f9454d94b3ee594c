package textcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// WriteJSONString writes s as a JSON string.
func WriteJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// WriteJSONValue writes row i of a as JSON, in the forms the JSON decoder
// reads back: timestamps as RFC 3339 strings in UTC, dates as YYYY-MM-DD,
// binary as standard base64.
func WriteJSONValue(buf *bytes.Buffer, a arrow.Array, i int) error {
	if a.IsNull(i) {
		buf.WriteString("null")
		return nil
	}
	switch a := a.(type) {
	case *array.Boolean:
		buf.WriteString(strconv.FormatBool(a.Value(i)))
	case *array.Int8:
		buf.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int16:
		buf.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int32:
		buf.WriteString(strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int64:
		buf.WriteString(strconv.FormatInt(a.Value(i), 10))
	case *array.Uint8:
		buf.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint16:
		buf.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint32:
		buf.WriteString(strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint64:
		buf.WriteString(strconv.FormatUint(a.Value(i), 10))
	case *array.Float32:
		return writeJSONFloat(buf, float64(a.Value(i)), 32)
	case *array.Float64:
		return writeJSONFloat(buf, a.Value(i), 64)
	case *array.String:
		WriteJSONString(buf, a.Value(i))
	case *array.LargeString:
		WriteJSONString(buf, a.Value(i))
	case *array.Binary:
		WriteJSONString(buf, base64.StdEncoding.EncodeToString(a.Value(i)))
	case *array.LargeBinary:
		WriteJSONString(buf, base64.StdEncoding.EncodeToString(a.Value(i)))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		WriteJSONString(buf, a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano))
	case *array.Date32:
		WriteJSONString(buf, a.Value(i).ToTime().UTC().Format("2006-01-02"))
	case *array.Decimal128:
		// A JSON number with every digit (as Flink's JSON format writes a DECIMAL).
		buf.WriteString(a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		buf.WriteByte('{')
		for f := range a.NumField() {
			if f > 0 {
				buf.WriteByte(',')
			}
			WriteJSONString(buf, st.Field(f).Name)
			buf.WriteByte(':')
			if err := WriteJSONValue(buf, a.Field(f), i); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case array.ListLike:
		lo, hi := a.ValueOffsets(i)
		vals := a.ListValues()
		buf.WriteByte('[')
		for j := lo; j < hi; j++ {
			if j > lo {
				buf.WriteByte(',')
			}
			if err := WriteJSONValue(buf, vals, int(j)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		return fmt.Errorf("type %s cannot be written as JSON", a.DataType())
	}
	return nil
}

func writeJSONFloat(buf *bytes.Buffer, f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%v cannot be written as JSON", f)
	}
	buf.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	return nil
}
