package arrowbridge

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func record(t *testing.T, name string, a arrow.Array) arrow.RecordBatch {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{{Name: name, Type: a.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{a}, int64(a.Len()))
}

func int32Buf(vs ...int32) *memory.Buffer {
	return memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(vs))
}

func int64Buf(vs ...int64) *memory.Buffer {
	return memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vs))
}

func TestValidateRecordAcceptsGoodData(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.AppendValues([]string{"a", "bc", ""}, []bool{true, true, false})
	str := sb.NewArray()
	defer str.Release()
	lb := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int64)
	defer lb.Release()
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	lb.AppendNull()
	lst := lb.NewArray()
	defer lst.Release()
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String})
	defer db.Release()
	_ = db.(*array.BinaryDictionaryBuilder).AppendString("x")
	_ = db.(*array.BinaryDictionaryBuilder).AppendString("y")
	db.AppendNull()
	dict := db.NewArray()
	defer dict.Release()
	slice := array.NewSlice(str, 1, 3)
	defer slice.Release()
	for _, a := range []arrow.Array{str, lst, dict, slice} {
		rec := record(t, "c", a)
		if err := ValidateRecord(rec); err != nil {
			t.Errorf("%s: %v", a.DataType(), err)
		}
		rec.Release()
	}
}

func TestValidateRecordRejectsMalformedData(t *testing.T) {
	cases := []struct {
		name string
		data arrow.ArrayData
		want string
	}{
		{"decreasing string offsets", array.NewData(arrow.BinaryTypes.String, 3,
			[]*memory.Buffer{nil, int32Buf(0, 5, 2, 5), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"offsets decrease"},
		{"negative string offset", array.NewData(arrow.BinaryTypes.String, 1,
			[]*memory.Buffer{nil, int32Buf(-4, 1), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"negative offset"},
		{"string offset past the data", array.NewData(arrow.BinaryTypes.String, 2,
			[]*memory.Buffer{nil, int32Buf(0, 2, 9), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"past the end"},
		{"list offset past the values", array.NewData(arrow.ListOf(arrow.PrimitiveTypes.Int32), 1,
			[]*memory.Buffer{nil, int32Buf(0, 7)}, []arrow.ArrayData{
				array.NewData(arrow.PrimitiveTypes.Int32, 2, []*memory.Buffer{nil, int32Buf(1, 2)}, nil, 0, 0)}, 0, 0),
			"past the end of the child array"},
		{"decreasing large string offsets", array.NewData(arrow.BinaryTypes.LargeString, 3,
			[]*memory.Buffer{nil, int64Buf(0, 5, 2, 5), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"offsets decrease at 2 (2 after 5)"},
		{"negative large binary offset", array.NewData(arrow.BinaryTypes.LargeBinary, 1,
			[]*memory.Buffer{nil, int64Buf(-4, 1), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"negative offset -4 at 0"},
		{"large list offset past the values", array.NewData(arrow.LargeListOf(arrow.PrimitiveTypes.Int32), 1,
			[]*memory.Buffer{nil, int64Buf(0, 7)}, []arrow.ArrayData{
				array.NewData(arrow.PrimitiveTypes.Int32, 2, []*memory.Buffer{nil, int32Buf(1, 2)}, nil, 0, 0)}, 0, 0),
			"offset 7 is past the end of the child array (2)"},
		{"short large string offsets buffer", array.NewData(arrow.BinaryTypes.LargeString, 3,
			[]*memory.Buffer{nil, int64Buf(0, 1), memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0),
			"offsets buffer has 2 entries, 4 needed"},
		{"dictionary index outside the dictionary", array.NewDataWithDictionary(
			&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.PrimitiveTypes.Int32}, 2,
			[]*memory.Buffer{nil, int32Buf(0, 3)}, 0, 0,
			array.NewData(arrow.PrimitiveTypes.Int32, 2, []*memory.Buffer{nil, int32Buf(10, 20)}, nil, 0, 0)),
			"dictionary index 3"},
		{"struct field too short", array.NewData(arrow.StructOf(arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Int32}), 3,
			[]*memory.Buffer{nil}, []arrow.ArrayData{
				array.NewData(arrow.PrimitiveTypes.Int32, 1, []*memory.Buffer{nil, int32Buf(1)}, nil, 0, 0)}, 0, 0),
			`field "f" has 1 values, 3 needed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Some of these arrow-go refuses to build into an array (with a panic, which
			// the importer's recovery turns into an error): check the data itself.
			if err := validateData(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	// Through a record batch the error names the column.
	a := array.MakeFromData(cases[0].data)
	rec := record(t, "col", a)
	if err := ValidateRecord(rec); err == nil || !strings.Contains(err.Error(), `column "col" (utf8) is malformed: offsets decrease`) {
		t.Fatalf("got %v", err)
	}
}
