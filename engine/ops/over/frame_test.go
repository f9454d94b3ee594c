package over_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var frameTS = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

var frameIn = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: frameTS},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

type frameEvent struct {
	k            any
	ts           int64
	v            any // int64 or nil
	x            any // float64 or nil
	batch, index int
}

func (e frameEvent) row() []any { return []any{e.k, e.ts, e.v, e.x} }

// frameStream is batches of rows with disordered event times (many ties), stamped with
// the current watermark, and a watermark every other batch.
func frameStream(seed int64, batches int) ([]opstest.Step, [][]frameEvent, []int64) {
	return frameStreamOf(seed, batches, []string{"a", "b", "c", "d"}, 10)
}

// frameStreamOf is frameStream over keys, with up to rows rows a batch.
func frameStreamOf(seed int64, batches int, keys []string, maxRows int) ([]opstest.Step, [][]frameEvent, []int64) {
	return frameStreamWith(seed, batches, keys, maxRows, func(rng *rand.Rand) int64 { return int64(rng.Intn(50) - 10) })
}

// frameStreamWith is frameStreamOf with the values v of column v.
func frameStreamWith(seed int64, batches int, keys []string, maxRows int, v func(*rand.Rand) int64) ([]opstest.Step, [][]frameEvent, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var evs [][]frameEvent
	var stamps []int64
	wm := int64(math.MinInt64)
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(maxRows)
		var rows [][]any
		var es []frameEvent
		for i := 0; i < n; i++ {
			var k any = keys[rng.Intn(len(keys))]
			if rng.Intn(10) == 0 {
				k = nil
			}
			e := frameEvent{k: k, ts: int64(b*3 + rng.Intn(12) - 6), batch: b, index: i}
			if rng.Intn(8) > 0 {
				e.v = v(rng)
			}
			if rng.Intn(8) > 0 {
				e.x = float64(rng.Intn(400)) / 8
			}
			rows = append(rows, e.row())
			es = append(es, e)
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(frameIn, rows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs = append(evs, es)
		stamps = append(stamps, wm)
		if b%2 == 1 {
			wm = int64(b * 3)
			steps = append(steps, opstest.Step{WM: wm})
			evs = append(evs, nil)
			stamps = append(stamps, wm)
		}
	}
	return steps, evs, stamps
}

// refAgg is the plain reference of one frame aggregation.
type refAgg struct {
	fn, arg   string // arg: "v", "x" or "" (rows)
	rows      bool
	unbounded bool
	n         int64
}

func (a refAgg) value(e frameEvent) any {
	switch a.arg {
	case "v":
		return e.v
	case "x":
		return e.x
	}
	return int64(1)
}

// compute aggregates the frame's events, oldest first.
func (a refAgg) compute(frame []frameEvent) any {
	cnt := int64(0)
	si := new(big.Int)
	var sf float64
	var best any
	for _, e := range frame {
		v := a.value(e)
		if v == nil {
			continue
		}
		cnt++
		switch x := v.(type) {
		case int64:
			si.Add(si, big.NewInt(x))
			if best == nil || (a.fn == "max" && x > best.(int64)) || (a.fn == "min" && x < best.(int64)) {
				best = x
			}
		case float64:
			sf += x
			if best == nil || (a.fn == "max" && x > best.(float64)) || (a.fn == "min" && x < best.(float64)) {
				best = x
			}
		}
	}
	if a.fn == "count" {
		return cnt
	}
	if cnt == 0 {
		return nil
	}
	switch a.fn {
	case "sum":
		if a.arg == "x" {
			return sf
		}
		if !si.IsInt64() {
			return "overflow"
		}
		return si.Int64()
	case "mean":
		if a.arg == "x" {
			return sf / float64(cnt)
		}
		m, _ := new(big.Rat).SetFrac(si, big.NewInt(cnt)).Float64()
		return m
	}
	return best
}

// refFrames: rows not behind their batch's watermark, per key in (time, input order);
// each row's frame: the n rows before it and itself (rows), the rows of its key with time
// at least its time minus n (range, its ties included), or all rows up to it (rows) /
// up to its time (range).
func refFrames(evs [][]frameEvent, stamps []int64, aggs []refAgg) []string {
	parts := map[string][]frameEvent{}
	for i, es := range evs {
		for _, e := range es {
			if e.ts > stamps[i] {
				k := opstest.Row(e.k)
				parts[k] = append(parts[k], e)
			}
		}
	}
	var out []string
	for _, es := range parts {
		sort.SliceStable(es, func(a, b int) bool {
			x, y := es[a], es[b]
			if x.ts != y.ts {
				return x.ts < y.ts
			}
			if x.batch != y.batch {
				return x.batch < y.batch
			}
			return x.index < y.index
		})
		for j, e := range es {
			row := e.row()
			for _, a := range aggs {
				var frame []frameEvent
				for q, f := range es {
					var in bool
					switch {
					case a.rows && a.unbounded:
						in = q <= j
					case a.rows:
						in = q <= j && int64(j-q) <= a.n
					case a.unbounded:
						in = f.ts <= e.ts
					default:
						in = f.ts <= e.ts && f.ts >= e.ts-a.n
					}
					if in {
						frame = append(frame, f)
					}
				}
				row = append(row, a.compute(frame))
			}
			out = append(out, opstest.Row(row...))
		}
	}
	sort.Strings(out)
	return out
}

func frameOp(aggs []refAgg) opstest.Op {
	keys := []expr.Expr{opstest.Col(frameIn, "k")}
	var fas []over.FrameAgg
	fields := append([]arrow.Field{}, frameIn.Fields()...)
	for i, a := range aggs {
		fa := over.FrameAgg{Fn: a.fn, Text: fmt.Sprint(a), Rows: a.rows, Unbounded: a.unbounded, N: a.n}
		if a.arg != "" {
			fa.Arg = opstest.Col(frameIn, a.arg)
			fa.Float = a.arg == "x" && a.fn != "count"
		}
		switch {
		case a.fn == "count":
			fa.OutType = arrow.PrimitiveTypes.Int64
		case a.fn == "mean" || fa.Float:
			fa.OutType = arrow.PrimitiveTypes.Float64
		default:
			fa.OutType = arrow.PrimitiveTypes.Int64
		}
		fas = append(fas, fa)
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("a%d", i), Type: fa.OutType, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	return opstest.Op{
		New: func() runtime.Operator {
			return &over.FrameOp{Name: "over", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
				Order: opstest.Col(frameIn, "ts"), Time: true, Aggs: fas, InSchema: frameIn, Schema: schema, Batch: 5}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
}

// Frame aggregations over preceding rows and preceding event time give the plain
// reference's rows straight, checkpointed (pending rows, the rows frames reach, running
// aggregates) and restored at other parallelisms, on both backends.
func TestFrameStateThreeWays(t *testing.T) {
	steps, evs, stamps := frameStream(3, 40)
	defer opstest.Release(steps)
	for name, aggs := range frameSets {
		want := refFrames(evs, stamps, aggs)
		if len(want) < 100 {
			t.Fatalf("only %d rows", len(want))
		}
		t.Run(name+"/", func(t *testing.T) { opstest.RunAll(t, frameOp(aggs), steps, 7, want) })
	}
}

// Integer sums and means whose running totals leave int64 (values near its bounds, all
// multiples of 2^11 so that the means' float64 are exact quotients): a frame adds its new
// row before its oldest leaves, and an unbounded mean's exact sum wraps and returns. Only
// a row's own sum is checked (none here leaves int64); the wraps are kept through
// checkpoints and restores at other parallelisms.
func TestFrameIntegerSumsBeyondInt64ThreeWays(t *testing.T) {
	const big = math.MaxInt64 &^ 2047
	steps, evs, stamps := frameStreamWith(11, 40, []string{"a", "b"}, 10, func(rng *rand.Rand) int64 {
		return []int64{big, -big, big / 2 &^ 2047, -2048 * int64(rng.Intn(9))}[rng.Intn(4)]
	})
	defer opstest.Release(steps)
	aggs := []refAgg{{fn: "sum", arg: "v", rows: true, n: 0}, {fn: "mean", arg: "v", rows: true, unbounded: true},
		{fn: "mean", arg: "v", rows: true, n: 3}, {fn: "mean", arg: "v", unbounded: true}, {fn: "mean", arg: "v", n: 4}}
	want := refFrames(evs, stamps, aggs)
	for _, r := range want {
		if strings.Contains(r, "overflow") {
			t.Fatalf("a row's own sum leaves int64: %s", r)
		}
	}
	opstest.RunAll(t, frameOp(aggs), steps, 7, want)
}

// Rows behind the watermark are dropped (the reference leaves them out): the stream has
// some.
func TestFrameStreamHasLateRows(t *testing.T) {
	steps, evs, stamps := frameStream(3, 40)
	defer opstest.Release(steps)
	late := 0
	for i, es := range evs {
		for _, e := range es {
			if e.ts <= stamps[i] {
				late++
			}
		}
	}
	if late == 0 {
		t.Fatal("no late rows in the test stream")
	}
}

// A long stream (hundreds of rows per partition: the rows frames no longer reach are given
// back and the windows' positions move with them) gives the reference's rows, straight
// and checkpointed and rescaled.
func TestFrameLongStream(t *testing.T) {
	steps, evs, stamps := frameStream(9, 500)
	defer opstest.Release(steps)
	aggs := []refAgg{{fn: "sum", arg: "x", rows: true, n: 3}, {fn: "max", arg: "x", n: 5}, {fn: "min", arg: "v", rows: true, n: 2},
		{fn: "count", n: 4}, {fn: "mean", arg: "x", n: 10}, {fn: "max", arg: "v", rows: true, n: 70}, {fn: "min", arg: "x", n: 90}}
	want := refFrames(evs, stamps, aggs)
	if len(want) < 2000 {
		t.Fatalf("only %d rows", len(want))
	}
	plans := opstest.Plans(len(steps), 150)
	for _, name := range []string{"straight", "checkpoints", "rescale 4->3->1"} {
		t.Run(name, func(t *testing.T) {
			opstest.Equal(t, opstest.Run(t, frameOp(aggs), steps, plans[name], state.MemoryBackend), want)
		})
	}
}
