package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

const dagGen = `{"op":"datagen","id":"g","count":1000,"seed":3,"fields":[{"name":"x","type":"int64","kind":"sequence"}]}`

func TestBindSharedNodeOnce(t *testing.T) {
	doc := `{"version":1,"outputs":[
		{"op":"union","inputs":[
			{"op":"filter","input":` + dagGen + `,"predicate":{"fn":"lt","args":[{"col":"x"},{"lit":10,"type":"int64"}]}},
			{"op":"select","input":{"ref":"g"},"exprs":[{"col":"x"}]}]},
		{"ref":"g"}]}`
	p, err := plan.ParsePlan([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := Bind(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 {
		t.Fatalf("want 2 outputs, got %d", len(outs))
	}
	union, gen := outs[0], outs[1]
	left, right := union.inputs[0].inputs[0], union.inputs[1].inputs[0]
	if left != gen || right != gen {
		t.Fatalf("the shared generator is bound more than once: %p %p %p", left, right, gen)
	}
	var gens int
	for _, n := range walkNodes(outs) {
		if n.op == "datagen" {
			gens++
		}
	}
	if gens != 1 {
		t.Fatalf("want one bound datagen, found %d", gens)
	}
}

func TestBadReferences(t *testing.T) {
	cases := map[string]string{
		`{"version":1,"root":{"op":"limit","n":1,"input":{"ref":"h"}}}`:                                       `unknown id "h"`,
		`{"version":1,"outputs":[` + dagGen + `,` + dagGen + `]}`:                                             `two operators have the id "g"`,
		`{"version":1,"root":{"op":"limit","id":"l","n":1,"input":{"op":"limit","n":1,"input":{"ref":"l"}}}}`: `plan has a cycle: limit "l" -> limit -> limit "l"`,
		`{"version":1,"root":{"op":"limit","n":1,"input":{"ref":"g","op":"limit"}}}`:                          `takes no other fields`,
		`{"version":1,"root":` + dagGen + `,"outputs":[` + dagGen + `]}`:                                      `both "root" and "outputs"`,
		`{"version":1,"outputs":[]}`: `no root operator`,
	}
	for doc, want := range cases {
		_, err := plan.ParsePlan([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n got %v\nwant %q", doc, err, want)
		}
	}
}

// TestFanOut runs one generator into three consumers and two outputs: every branch sees
// every row, and the explain shows the generator once.
func TestFanOut(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	doc := `{"version":1,"options":{"parallelism":2,"batch_size":64},"outputs":[
		{"op":"aggregate","keys":[],"aggs":[{"alias":"n","args":[{"agg":"count"}]},{"alias":"s","args":[{"agg":"sum","args":[{"col":"x"}]}]}],"input":` + dagGen + `},
		{"op":"union","inputs":[
			{"op":"filter","input":{"ref":"g"},"predicate":{"fn":"lt","args":[{"col":"x"},{"lit":10,"type":"int64"}]}},
			{"op":"filter","input":{"ref":"g"},"predicate":{"fn":"ge","args":[{"col":"x"},{"lit":990,"type":"int64"}]}}]}]}`
	text, err := Explain([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if phys := strings.SplitN(text, "physical plan:", 2)[1]; strings.Count(phys, "datagen") != 1 {
		t.Fatalf("the generator should run once:\n%s", text)
	}
	job, err := Start(context.Background(), []byte(doc), nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	var agg []arrow.RecordBatch
	var xs []int64
	for {
		rec, out, err := job.NextOutput()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch out {
		case 0:
			agg = append(agg, rec)
			continue
		case 1:
			xs = append(xs, rec.Column(0).(*array.Int64).Int64Values()...)
		default:
			t.Fatalf("batch of unknown output %d", out)
		}
		rec.Release()
	}
	if len(agg) != 1 || agg[0].NumRows() != 1 {
		t.Fatalf("want one aggregate row, got %v", agg)
	}
	n, s := agg[0].Column(0).(*array.Int64).Value(0), agg[0].Column(1).(*array.Int64).Value(0)
	agg[0].Release()
	// datagen sequence is 0..999 (or 1..1000): check against the closed form of whichever.
	first := int64(0)
	if s == 1000*1001/2 {
		first = 1
	}
	if n != 1000 || s != 1000*(2*first+999)/2 {
		t.Fatalf("aggregate branch saw n=%d sum=%d", n, s)
	}
	want := 0
	for x := first; x < first+1000; x++ {
		if x < 10 || x >= 990 {
			want++
		}
	}
	if len(xs) != want {
		t.Fatalf("union branch: want %d rows, got %d", want, len(xs))
	}
	if len(job.Schemas()) != 2 {
		t.Fatalf("want 2 output schemas, got %d", len(job.Schemas()))
	}
}

// TestNestedUnionsPassSourceCountsOnce: thirty unions nested two by two over Arrow sources
// (which announce their split counts) at parallelism 2 end with every row. Each stage
// passed on the count once per input it came through, so the copies doubled with every
// union (2^30 messages here: a job that did not end before the test's timeout).
func TestNestedUnionsPassSourceCountsOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const depth = 30
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var tables []arrow.Table
	node := `{"op":"scan_arrow","source":0}`
	for i := 0; i <= depth; i++ {
		b := array.NewInt64Builder(mem)
		b.AppendValues([]int64{int64(i), int64(i + 100)}, nil)
		col := b.NewArray()
		b.Release()
		tbl := array.NewTableFromSlice(schema, [][]arrow.Array{{col}})
		col.Release()
		defer tbl.Release()
		tables = append(tables, tbl)
		if i > 0 {
			node = fmt.Sprintf(`{"op":"union","inputs":[%s,{"op":"scan_arrow","source":%d}]}`, node, i)
		}
	}
	sum, rows := int64(0), 0
	for _, rec := range runPlan(t, mem, `{"version":1,"options":{"parallelism":2},"root":`+node+`}`, tables...) {
		for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	if want := int64((depth + 1) * (depth + 100)); rows != 2*(depth+1) || sum != want {
		t.Fatalf("got %d rows summing to %d, want %d rows summing to %d", rows, sum, 2*(depth+1), want)
	}
}
