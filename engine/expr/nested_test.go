package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A struct's field is null where the struct is (Arrow keeps the child's own validity
// apart), at any slice offset, and the result holds no memory past its release.
func TestStructFieldOfSlicedStructs(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	typ := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	s, _, err := array.FromJSON(mem, typ, strings.NewReader(`[{"a": 1}, null, {"a": null}, {"a": 4}, null, {"a": 6}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	want := []string{"1", "(null)", "(null)", "4", "(null)", "6"}
	for off := range 6 {
		sl := array.NewSlice(s, int64(off), 6)
		got := structField(mem, sl.(*array.Struct), 0)
		if got.Len() != 6-off {
			t.Fatalf("offset %d: %d rows", off, got.Len())
		}
		nulls := 0
		for i := range got.Len() {
			if g := got.ValueStr(i); g != want[off+i] {
				t.Fatalf("offset %d, row %d: %s, want %s", off, i, g, want[off+i])
			}
			if got.IsNull(i) {
				nulls++
			}
		}
		if got.NullN() != nulls {
			t.Fatalf("offset %d: NullN %d, counted %d", off, got.NullN(), nulls)
		}
		got.Release()
		sl.Release()
	}
}

// list.get counts from either end in every list layout, fixed-size lists sliced at an
// offset included, and names the row of an index out of bounds.
func TestListGetInEveryLayout(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	for _, typ := range []arrow.DataType{arrow.ListOf(arrow.PrimitiveTypes.Int64),
		arrow.LargeListOf(arrow.PrimitiveTypes.Int64), arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int64)} {
		l, _, err := array.FromJSON(mem, typ, strings.NewReader(`[[1, 2], null, [3, 4], [5, 6]]`))
		if err != nil {
			t.Fatal(err)
		}
		sl := array.NewSlice(l, 1, 4)
		for _, c := range []struct {
			index int64
			want  string
		}{{0, "[(null) 3 5]"}, {-1, "[(null) 4 6]"}, {1, "[(null) 4 6]"}, {-2, "[(null) 3 5]"}} {
			got, err := listGet(ec, sl, c.index, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != c.want {
				t.Fatalf("%s get(%d): %s, want %s", typ, c.index, got, c.want)
			}
			got.Release()
		}
		if _, err := listGet(ec, sl, 2, false); err == nil || !strings.Contains(err.Error(), "row 1 (a list of 2 elements)") {
			t.Fatalf("%s get(2): %v", typ, err)
		}
		got, err := listGet(ec, sl, -3, true)
		if err != nil || got.NullN() != 3 {
			t.Fatalf("%s get(-3, null_on_oob): %v %v", typ, got, err)
		}
		got.Release()
		sl.Release()
		l.Release()
	}
}
