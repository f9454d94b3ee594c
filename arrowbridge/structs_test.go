package arrowbridge

import (
	"unsafe"

	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A struct column with an offset (sliced), nested in a struct, in a list and alone,
// exported through the C data interface and imported back, has the values of the slice
// (arrow-go's export applied the offset twice).
func TestSlicedStructsExportTheirRows(t *testing.T) {
	mem := memory.DefaultAllocator
	inner := arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true})
	outer := arrow.StructOf(arrow.Field{Name: "a", Type: inner, Nullable: true})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "st", Type: inner, Nullable: true},
		{Name: "nested", Type: outer, Nullable: true},
		{Name: "list", Type: arrow.ListOf(inner), Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	addInner := func(sb *array.StructBuilder, i int) {
		if i == 2 {
			sb.AppendNull()
			return
		}
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int64Builder).Append(int64(i))
		sb.FieldBuilder(1).(*array.StringBuilder).Append(string(rune('a' + i)))
	}
	for i := 0; i < 8; i++ {
		addInner(b.Field(0).(*array.StructBuilder), i)
		nb := b.Field(1).(*array.StructBuilder)
		nb.Append(true)
		addInner(nb.FieldBuilder(0).(*array.StructBuilder), i)
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		addInner(lb.ValueBuilder().(*array.StructBuilder), i)
		b.Field(3).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	for _, cut := range [][2]int64{{0, 8}, {1, 5}, {3, 8}, {2, 3}} {
		sliced := rec.NewSlice(cut[0], cut[1])
		var carr cdata.CArrowArray
		var csch cdata.CArrowSchema
		ExportRecordBatch(sliced, unsafe.Pointer(&carr), unsafe.Pointer(&csch))
		back, err := cdata.ImportCRecordBatch(&carr, &csch)
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < int(sliced.NumCols()); c++ {
			want, got := sliced.Column(c), back.Column(c)
			if !array.Equal(want, got) {
				t.Errorf("rows %v, column %s: got %v, want %v", cut, schema.Field(c).Name, got, want)
			}
		}
		back.Release()
		sliced.Release()
	}
}
