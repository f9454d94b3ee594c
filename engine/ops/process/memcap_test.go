package process_test

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/process"
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// TestSpillsWithinCap: a process function (counting each key's elements in its state)
// whose elements wait for the watermark, all of them to the end, and take five times the
// operator's memory cap (state_backend="pebble", state_memory_limit). After every batch
// what the cap accounts for (elements and state rows in memory, the keys, the waiting
// elements' order, the timers, the spill store's buffers) stays within the cap plus a
// slack, the elements spill, and the output equals a plain-Go count.
func TestSpillsWithinCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 40 MB to a spill store")
	}
	const (
		capBytes = 8 << 20
		slack    = 1 << 20
		keys     = 1000
		perKey   = 20
		pad      = 2000
	)
	udf.SetUDFCaller(ttlHost)
	schema := arrow.NewSchema(append(inSchema.Fields(), arrow.Field{Name: "pad", Type: arrow.BinaryTypes.String}), nil)
	kx := []expr.Expr{opstest.Col(schema, "account")}
	op := opstest.Op{New: func() runtime.Operator {
		return &process.ProcessOp{Name: "process", Udf: 1, Keys: kx, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
			KeyNames: []string{"account"}, TimeIdx: 1, InSchema: schema, Main: outSchema,
			State: []process.StateSpec{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}}
	}}
	rng := rand.New(rand.NewSource(5))
	order := rng.Perm(keys * perKey)
	var steps []opstest.Step
	for from := 0; from < len(order); from += 500 {
		var rows [][]any
		for _, i := range order[from:min(from+500, len(order))] {
			rows = append(rows, []any{int64(i % keys), int64(i) * 1000, 1.0, fmt.Sprintf("%d:", i) + strings.Repeat("x", pad)})
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(schema, rows), Seq: runtime.MakeSeq(0, int64(len(steps)), 0)})
	}
	defer opstest.Release(steps)
	var want []string
	for k := int64(0); k < keys; k++ {
		for n := int64(1); n <= perKey; n++ {
			want = append(want, opstest.Row(k, n, "count"))
		}
	}
	sort.Strings(want)
	state := int64(keys * perKey * pad)
	got, most := opstest.WithinCap(t, op, steps, capBytes, slack, process.SpillUse)
	t.Logf("state %d MB against a cap of %d MB: held at most %d bytes (index up to %d), spilled %d MB",
		state>>20, capBytes>>20, most.Resident, most.Index, most.Spilled>>20)
	if most.Spilled < state/2 || most.Index == 0 {
		t.Fatalf("spilled %d bytes of a state of %d, index %d", most.Spilled, state, most.Index)
	}
	opstest.Equal(t, got, want)
}
