package dedup_test

import (
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var upsertSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "__op", Type: arrow.BinaryTypes.String},
}, nil)

// upsertStream is an upsert stream as the upsert-kafka source reads it: upserts (+U) of
// a few keys (one the null key) with values that often repeat, and deletes (-D, the key
// with a null value) of held and of unknown keys.
func upsertStream(seed int64, batches, rowsPerBatch int) []opstest.Step {
	rng := rand.New(rand.NewSource(seed))
	keys := []any{"a", "b", "c", "d", "e", nil}
	var steps []opstest.Step
	for b := 0; b < batches; b++ {
		var rows [][]any
		for n := 1 + rng.Intn(rowsPerBatch); n > 0; n-- {
			k := keys[rng.Intn(len(keys))]
			if rng.Intn(4) == 0 {
				rows = append(rows, []any{k, nil, "-D"})
			} else {
				rows = append(rows, []any{k, int64(rng.Intn(4)), "+U"})
			}
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(upsertSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps
}

// normalizeRef folds the stream into the last row per key (tombstones delete) and returns
// the changes that takes: +I of a new key, -U/+U of a changed value (nothing for the same
// value), -D of a deleted held key (nothing for an unknown one).
func normalizeRef(steps []opstest.Step) (changes []string, deletes, unknown, same int) {
	held := map[any]any{}
	for _, st := range steps {
		for i := 0; i < int(st.Rec.NumRows()); i++ {
			k, v := opstest.Value(st.Rec.Column(0), i), opstest.Value(st.Rec.Column(1), i)
			old, has := held[k]
			if opstest.Value(st.Rec.Column(2), i) == "-D" {
				if has {
					changes = append(changes, opstest.Row(k, old, "-D"))
					delete(held, k)
					deletes++
				} else {
					unknown++
				}
				continue
			}
			switch {
			case !has:
				changes = append(changes, opstest.Row(k, v, "+I"))
			case old == v:
				same++
			default:
				changes = append(changes, opstest.Row(k, old, "-U"), opstest.Row(k, v, "+U"))
			}
			held[k] = v
		}
	}
	return changes, deletes, unknown, same
}

// The upsert normalisation emits the changes of the plain fold (last value per key,
// tombstones delete held keys and are dropped for unknown ones, an unchanged value emits
// nothing) — straight, checkpointed, restored at other parallelisms, on both backends
// (Pebble spilling the rows held), the store compacted often.
func TestNormalizeThreeWays(t *testing.T) {
	defer dedup.SetRankCompactAt(8)()
	keys := []expr.Expr{opstest.Col(upsertSchema, "k")}
	op := opstest.Op{
		New: func() runtime.Operator {
			return &dedup.NormalizeOp{Name: "normalize", Keys: keys, KeyTypes: []arrow.DataType{arrow.BinaryTypes.String},
				InSchema: upsertSchema, BatchSize: 4}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
	for _, perBatch := range []int{1, 7} {
		steps := upsertStream(int64(3+perBatch), max(150/perBatch, 30), perBatch)
		want, deletes, unknown, same := normalizeRef(steps)
		if deletes < 3 || unknown < 3 || same < 3 {
			t.Fatalf("the stream is too tame: %d deletes, %d of unknown keys, %d unchanged values", deletes, unknown, same)
		}
		opstest.RunAll(t, op, steps, 7, want)
		opstest.Release(steps)
	}
}
