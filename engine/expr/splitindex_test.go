package expr

import (
	"context"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// str_split_index against strings.Split: every piece of random strings made of separators
// and other text (empty pieces, a separator at either end, multi-byte separators), nulls,
// and indexes past the last piece or negative.
func TestSplitIndexMatchesStringsSplit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	rng := rand.New(rand.NewSource(3))
	for _, by := range []string{"/", "ab", "✓", "::"} {
		b := array.NewStringBuilder(mem)
		var vals []*string
		for i := 0; i < 300; i++ {
			if i%17 == 0 {
				b.AppendNull()
				vals = append(vals, nil)
				continue
			}
			var sb strings.Builder
			for k := rng.Intn(8); k > 0; k-- {
				switch rng.Intn(4) {
				case 0:
					sb.WriteString(by)
				case 1:
					sb.WriteString("a")
				case 2:
					sb.WriteString("xyz")
				default:
					sb.WriteString("b✓")
				}
			}
			v := sb.String()
			b.Append(v)
			vals = append(vals, &v)
		}
		in := b.NewArray()
		b.Release()
		for index := int64(-1); index < 9; index++ {
			d, err := splitIndexKernel(by, index)(ec, []compute.Datum{compute.NewDatumWithoutOwning(in)})
			if err != nil {
				t.Fatal(err)
			}
			got := d.(*compute.ArrayDatum).MakeArray().(*array.String)
			for i, v := range vals {
				var want *string
				if v != nil && index >= 0 {
					if parts := strings.Split(*v, by); index < int64(len(parts)) {
						want = &parts[index]
					}
				}
				switch {
				case want == nil && got.IsValid(i):
					t.Fatalf("%q split on %q, piece %d: got %q, want null", *v, by, index, got.Value(i))
				case want != nil && (!got.IsValid(i) || got.Value(i) != *want):
					t.Fatalf("%q split on %q, piece %d: got %q (valid %v), want %q", *v, by, index, got.Value(i), got.IsValid(i), *want)
				}
			}
			got.Release()
			d.Release()
		}
		in.Release()
	}
}

// Flink's SPLIT_INDEX examples: a URL's pieces, a separator that is text and not a pattern,
// line breaks inside pieces.
func TestSplitIndexCases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	const url = "https://www.nexmark.com/abc/def/item.htm?query=1"
	for _, c := range []struct {
		s, sep string
		i      int64
		want   string
	}{
		{url, "/", 3, "abc"}, {url, "/", 5, "item.htm?query=1"}, {url, "/", 0, "https:"}, {url, "/", 1, ""},
		{url, "/", 6, "NULL"}, {"a", "/", 0, "a"}, {"", "/", 0, ""}, {"a/", "/", 1, ""}, {"a/", "/", 2, "NULL"},
		{"a::b::c", "::", 1, "b"}, {"a.b.c", ".", 2, "c"}, {"a\nb/c", "/", 0, "a\nb"}, {"a::b\n::c", "::", 2, "c"},
		{"a::b::", "::", 2, ""}, {"a::b", "::", 2, "NULL"}, {"x]y]z", "]", 1, "y"}, {"x^y", "^", 0, "x"},
		{"a/b", "/", -1, "NULL"},
	} {
		b := array.NewStringBuilder(mem)
		b.Append(c.s)
		in := b.NewArray()
		b.Release()
		d, err := splitIndexKernel(c.sep, c.i)(ec, []compute.Datum{compute.NewDatumWithoutOwning(in)})
		if err != nil {
			t.Fatal(err)
		}
		out := d.(*compute.ArrayDatum).MakeArray().(*array.String)
		got := "NULL"
		if out.IsValid(0) {
			got = out.Value(0)
		}
		if got != c.want {
			t.Errorf("SPLIT_INDEX(%q, %q, %d) = %q, want %q", c.s, c.sep, c.i, got, c.want)
		}
		out.Release()
		d.Release()
		in.Release()
	}
}
