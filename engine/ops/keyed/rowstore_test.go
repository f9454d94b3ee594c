package keyed_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
	_ "github.com/riverbed-engine/riverbed/state/pebblestate" // the Pebble spill store
)

var rowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// randomBatch makes n rows with ids from *next on; some batches are slices of a larger
// one (their buffers are shared).
func randomBatch(rng *rand.Rand, mem memory.Allocator, n int, next *int64) arrow.RecordBatch {
	extra := 0
	if rng.Intn(3) == 0 {
		extra = rng.Intn(20)
	}
	ib := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	fb := array.NewFloat64Builder(mem)
	defer ib.Release()
	defer sb.Release()
	defer fb.Release()
	for i := 0; i < n+extra; i++ {
		ib.Append(*next)
		*next++
		if rng.Intn(7) == 0 {
			sb.AppendNull()
		} else {
			sb.Append(strings.Repeat(string(rune('a'+rng.Intn(26))), rng.Intn(40)))
		}
		if rng.Intn(5) == 0 {
			fb.AppendNull()
		} else {
			fb.Append(float64(rng.Intn(10)))
		}
	}
	cols := []arrow.Array{ib.NewArray(), sb.NewArray(), fb.NewArray()}
	rec := array.NewRecordBatch(rowSchema, cols, int64(n+extra))
	runtime.ReleaseAll(cols)
	if extra == 0 {
		return rec
	}
	defer rec.Release()
	off := int64(rng.Intn(extra + 1))
	return rec.NewSlice(off, off+int64(n))
}

func sameColumns(t *testing.T, what string, got, want []arrow.Array) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d columns, want %d", what, len(got), len(want))
	}
	for k := range got {
		if !array.Equal(got[k], want[k]) {
			t.Fatalf("%s: column %d is\n%v\nwant\n%v", what, k, got[k], want[k])
		}
	}
}

// pair is a row store that spills and the plain in-memory store it is checked against,
// given the same operations.
type pair struct {
	spill, plain keyed.RowStore
	live         []keyed.RowRef // rows referenced (each once)
}

// TestSpillingRowStore runs random sequences of adds, drops, gathers, comparisons and
// compactions on two row stores sharing one spill with a tiny memory cap, and checks
// every answer against plain in-memory stores given the same operations.
func TestSpillingRowStore(t *testing.T) {
	for _, c := range []struct {
		name  string
		chunk int64 // memory cap for chunks, beyond the spill store's own buffers
	}{{"cap 0", -1}, {"cap 3 KB", 3 << 10}, {"cap 40 KB", 40 << 10}} {
		for seed := int64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/seed %d", c.name, seed), func(t *testing.T) {
				runRandom(t, seed, c.chunk)
			})
		}
	}
}

func runRandom(t *testing.T, seed, chunkCap int64) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	limit := int64(2<<20) + chunkCap // the spill store's buffers take 2 MiB of small caps
	if chunkCap < 0 {
		limit = 1
	}
	sp := keyed.NewSpillWith("op-under-test", runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: limit, Dir: dir}, mem)
	var ps [2]pair
	for i := range ps {
		ps[i].spill.Init(rowSchema, sp)
		ps[i].plain.Init(rowSchema, nil)
	}
	var next int64
	for step := 0; step < 300; step++ {
		if err := sp.CheckAccounts(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		p := &ps[rng.Intn(2)]
		switch op := rng.Intn(10); {
		case op < 4: // add a batch (some large: held in several pieces), dropping some of its rows at once
			n := 1 + rng.Intn(60)
			if rng.Intn(12) == 0 {
				n = 1200 + rng.Intn(1800)
			}
			rec := randomBatch(rng, mem, n, &next)
			c1, err := p.spill.Add(rec)
			if err != nil {
				t.Fatal(err)
			}
			c2, _ := p.plain.Add(rec)
			rec.Release()
			if c1 != c2 {
				t.Fatalf("chunk %d, want %d", c1, c2)
			}
			for r := 0; r < int(rec.NumRows()); r++ {
				ref := keyed.RowRef{Chunk: c1, Row: int32(r)}
				if rng.Intn(4) == 0 {
					p.spill.Drop(ref)
					p.plain.Drop(ref)
				} else {
					p.live = append(p.live, ref)
				}
			}
			if n > 1000 && len(p.live) > 0 {
				// Rows of the batch's last piece, still in memory while its first pieces
				// may be spilled already.
				last := p.live[len(p.live)-1]
				got, err := p.spill.Gather(ctx, []keyed.RowRef{last})
				if err != nil {
					t.Fatal(err)
				}
				want, _ := p.plain.Gather(ctx, []keyed.RowRef{last})
				sameColumns(t, fmt.Sprintf("step %d: the last row added", step), got, want)
				runtime.ReleaseAll(got)
				runtime.ReleaseAll(want)
			}
		case op < 6: // drop random rows
			for k := rng.Intn(40); k > 0 && len(p.live) > 0; k-- {
				i := rng.Intn(len(p.live))
				p.spill.Drop(p.live[i])
				p.plain.Drop(p.live[i])
				p.live[i] = p.live[len(p.live)-1]
				p.live = p.live[:len(p.live)-1]
			}
		case op < 8: // gather random rows (repeats and null refs too)
			if len(p.live) == 0 {
				continue
			}
			refs := make([]keyed.RowRef, rng.Intn(80))
			for i := range refs {
				if rng.Intn(10) == 0 {
					refs[i] = keyed.RowRef{Chunk: -1}
				} else {
					refs[i] = p.live[rng.Intn(len(p.live))]
				}
			}
			got, err := p.spill.Gather(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := p.plain.Gather(ctx, refs)
			sameColumns(t, fmt.Sprintf("step %d gather", step), got, want)
			runtime.ReleaseAll(got)
			runtime.ReleaseAll(want)
			// Compare rows pairwise, as operators' sorts do.
			for i := 0; i+1 < len(refs); i += 2 {
				a, b := refs[i], refs[i+1]
				if a.Chunk < 0 || b.Chunk < 0 {
					continue
				}
				if g, w := p.spill.CompareRows(a, b), p.plain.CompareRows(a, b); g != w {
					t.Fatalf("step %d: compare %v %v = %d, want %d", step, a, b, g, w)
				}
			}
			if err := p.spill.Err(); err != nil {
				t.Fatal(err)
			}
		case op < 9: // gather every live row a part at a time, in order or by chunk
			ordered := rng.Intn(2) == 0
			want, _ := p.plain.Gather(ctx, p.live)
			parts := make([][]arrow.Array, rowSchema.NumFields())
			var order []int32
			err := p.spill.GatherEach(ctx, p.live, ordered, func(at []int32, cols []arrow.Array) error {
				if at == nil {
					return errors.New("a spilling store gathers with positions")
				}
				order = append(order, at...)
				for k, c := range cols {
					c.Retain()
					parts[k] = append(parts[k], c)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(order) != len(p.live) {
				t.Fatalf("GatherEach gave %d rows of %d", len(order), len(p.live))
			}
			if len(order) > 0 {
				got := make([]arrow.Array, len(parts))
				idx := make([]int32, len(order)) // position in the parts of each ref
				for i, j := range order {
					idx[j] = int32(i)
				}
				ib := array.NewInt32Builder(mem)
				ib.AppendValues(idx, nil)
				ix := ib.NewArray()
				ib.Release()
				for k := range parts {
					cat, err := array.Concatenate(parts[k], mem)
					if err != nil {
						t.Fatal(err)
					}
					got[k], err = compute.TakeArray(ctx, cat, ix)
					cat.Release()
					if err != nil {
						t.Fatal(err)
					}
				}
				ix.Release()
				sameColumns(t, fmt.Sprintf("step %d GatherEach(ordered=%v)", step, ordered), got, want)
				runtime.ReleaseAll(got)
				if ordered && !sort.SliceIsSorted(order, func(a, b int) bool { return order[a] < order[b] }) {
					t.Fatalf("step %d: ordered parts out of order", step)
				}
			}
			for _, pt := range parts {
				runtime.ReleaseAll(pt)
			}
			runtime.ReleaseAll(want)
		default: // compact: copy the live rows into new chunks
			if p.spill.HeldRows() != p.plain.HeldRows() {
				t.Fatalf("step %d: %d rows held, want %d", step, p.spill.HeldRows(), p.plain.HeldRows())
			}
			moved, err := p.spill.Compact(ctx, p.live)
			if err != nil {
				t.Fatal(err)
			}
			// The plain store gets the same chunks: add the moved rows as the spilling
			// store did, from its own rows.
			var chunks []int32
			byChunk := map[int32][]int{}
			for i, r := range moved {
				if _, ok := byChunk[r.Chunk]; !ok {
					chunks = append(chunks, r.Chunk)
				}
				byChunk[r.Chunk] = append(byChunk[r.Chunk], i)
			}
			sort.Slice(chunks, func(a, b int) bool { return chunks[a] < chunks[b] })
			for _, c := range chunks {
				is := byChunk[c]
				sort.Slice(is, func(a, b int) bool { return moved[is[a]].Row < moved[is[b]].Row })
				refs := make([]keyed.RowRef, len(is))
				for k, i := range is {
					refs[k] = p.live[i]
				}
				cols, _ := p.plain.Gather(ctx, refs)
				rec := array.NewRecordBatch(rowSchema, cols, int64(len(refs)))
				runtime.ReleaseAll(cols)
				pc, _ := p.plain.Add(rec)
				rec.Release()
				if pc != c {
					t.Fatalf("compacted into chunk %d, the plain store into %d", c, pc)
				}
			}
			for _, r := range p.live {
				p.plain.Drop(r)
			}
			p.live = moved
		}
	}
	if sp.SplitChunks() == 0 {
		t.Fatal("no chunk was held in several pieces")
	}
	st := sp.Stats()
	t.Logf("spilled %d pieces (%d bytes), read back %d (%d bytes), %d bytes in memory", st.Spilled, st.SpilledBytes, st.Reloaded, st.ReloadedBytes, st.Resident)
	if st.Spilled == 0 || st.Reloaded == 0 {
		t.Fatalf("nothing spilled or read back: %+v", st)
	}
	for i := range ps {
		if ps[i].spill.HeldRows() != ps[i].plain.HeldRows() {
			t.Fatalf("%d rows held, want %d", ps[i].spill.HeldRows(), ps[i].plain.HeldRows())
		}
		ps[i].spill.Release()
		ps[i].plain.Release()
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the spill directory still holds %d entries after the stores were released", len(ents))
	}
}

// TestSpilledSaveRows saves the rows of a spilling store into a state table and loads
// them into another spilling store: the same rows as the in-memory store saves, in every
// key group, and the loaded store keeps to its cap.
func TestSpilledSaveRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	ec := expr.NewEvalCtx(ctx, mem)
	rng := rand.New(rand.NewSource(7))
	cfg := runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 1, Dir: t.TempDir()}
	sp := keyed.NewSpillWith("op-under-test", cfg, mem)
	var spill, plain keyed.RowStore
	spill.Init(rowSchema, sp)
	plain.Init(rowSchema, nil)
	defer spill.Release()
	defer plain.Release()
	var next int64
	var refs []keyed.RowRef
	for b := 0; b < 40; b++ {
		rec := randomBatch(rng, mem, 1+rng.Intn(50), &next)
		c, err := spill.Add(rec)
		if err != nil {
			t.Fatal(err)
		}
		plain.Add(rec)
		for r := 0; r < int(rec.NumRows()); r++ {
			refs = append(refs, keyed.RowRef{Chunk: c, Row: int32(r)})
		}
		rec.Release()
	}
	rng.Shuffle(len(refs), func(a, b int) { refs[a], refs[b] = refs[b], refs[a] })
	keys := []expr.Expr{opstest.Col(rowSchema, "id")}
	fields := []arrow.Field{{Name: "__extra", Type: arrow.PrimitiveTypes.Int64}}
	extra := func() []arrow.Array { // one value per ref: its position
		v := make([]int64, len(refs))
		for i := range v {
			v[i] = int64(i)
		}
		return []arrow.Array{keyed.Int64Column(mem, v)}
	}
	saved := map[string][]string{}
	for _, c := range []struct {
		name  string
		store *keyed.RowStore
	}{{"spill", &spill}, {"plain", &plain}} {
		be, err := state.NewBackend(state.Options{Tables: []state.TableSpec{keyed.BatchTable("rows.v1")}, MaxParallelism: 8})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.store.SaveRows(be, ec, "op", "rows.v1", keys, 8, refs, extra(), fields); err != nil {
			t.Fatal(err)
		}
		// Load into a fresh spilling store; list each key group's rows.
		sp2 := keyed.NewSpillWith("op-loaded", cfg, mem)
		var loaded keyed.RowStore
		loaded.Init(rowSchema, sp2)
		var rows []string
		err = loaded.LoadRows(be, ec, "op", "rows.v1", fields, func(chunk int32, part, rec arrow.RecordBatch) error {
			for i := 0; i < int(rec.NumRows()); i++ {
				rows = append(rows, fmt.Sprintf("%v|%v|%v|%v", rec.Column(0).(*array.Int64).Value(i), rec.Column(1).ValueStr(i), rec.Column(2).ValueStr(i), rec.Column(3).ValueStr(i)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st := sp2.Stats(); c.name == "spill" && st.Spilled == 0 {
			t.Fatalf("loading %d rows under a cap of 1 byte spilled nothing", len(rows))
		}
		loaded.Release()
		be.Close()
		sort.Strings(rows)
		saved[c.name] = rows
	}
	if len(saved["spill"]) != len(refs) || strings.Join(saved["spill"], "\n") != strings.Join(saved["plain"], "\n") {
		t.Fatalf("saved %d rows, the in-memory store %d (of %d)", len(saved["spill"]), len(saved["plain"]), len(refs))
	}
}

// faultyStore is a spill store that fails: Put once the disk is "full", Get when a value
// is "damaged".
type faultyStore struct {
	vals     map[uint64][]byte
	full     bool
	damaged  bool
	closedOK *bool
}

func (f *faultyStore) Put(k uint64, v []byte) error {
	if f.full {
		return &os.PathError{Op: "write", Path: "spill-000001.sst", Err: syscall.ENOSPC}
	}
	f.vals[k] = append([]byte(nil), v...)
	return nil
}

func (f *faultyStore) Get(k uint64, fn func([]byte) error) error {
	v, ok := f.vals[k]
	if !ok {
		return fmt.Errorf("no value %d", k)
	}
	if f.damaged {
		v = v[:len(v)/2]
	}
	return fn(v)
}

func (f *faultyStore) Delete(k uint64) error { delete(f.vals, k); return nil }
func (f *faultyStore) Close() error          { *f.closedOK = true; return nil }

var faulty *faultyStore

func init() {
	state.RegisterSpillStore("faulty-for-tests", func(state.SpillOptions) (state.SpillStore, error) { return faulty, nil })
}

// A spill store that cannot write (a full disk) or read back (damaged files) is an error
// naming the operator, from the call that needed it and from every later one; never rows
// that are not the ones added.
func TestSpillErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	rng := rand.New(rand.NewSource(3))
	closed := false
	for _, fault := range []string{"full", "damaged"} {
		faulty = &faultyStore{vals: map[uint64][]byte{}, closedOK: &closed}
		sp := keyed.NewSpillWith("join", runtime.SpillConfig{Backend: "faulty-for-tests", MemoryLimit: 1, Dir: t.TempDir()}, mem)
		var s keyed.RowStore
		s.Init(rowSchema, sp)
		var next int64
		var refs []keyed.RowRef
		for b := 0; b < 5; b++ {
			rec := randomBatch(rng, mem, 10, &next)
			c, err := s.Add(rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, keyed.RowRef{Chunk: c, Row: 3})
		}
		var err error
		switch fault {
		case "full":
			faulty.full = true
			rec := randomBatch(rng, mem, 10, &next)
			_, err = s.Add(rec)
			rec.Release()
		case "damaged":
			faulty.damaged = true
			var cols []arrow.Array
			cols, err = s.Gather(ctx, refs[:1])
			runtime.ReleaseAll(cols)
			if s.CompareRows(refs[0], refs[1]) != 0 || s.Err() == nil {
				t.Fatal("a comparison with a damaged chunk gave an answer")
			}
		}
		if err == nil || !strings.Contains(err.Error(), "join") {
			t.Fatalf("%s: %v", fault, err)
		}
		want := map[string]string{"full": "no space left on device", "damaged": "cannot read spilled rows back"}[fault]
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want it to say %q", fault, err, want)
		}
		if cols, err2 := s.Gather(ctx, refs); err2 == nil {
			runtime.ReleaseAll(cols)
			t.Fatalf("%s: a later gather succeeded", fault)
		}
		s.Release()
		if !closed {
			t.Fatalf("%s: the spill store was not closed with the last row store", fault)
		}
	}
}

// TestEachBatch: EachBatch gives exactly the referenced rows (a multiset), whole chunks
// and parts of chunks alike, with and without spilling; the rows it gives are those
// Gather gives.
func TestEachBatch(t *testing.T) {
	for _, spill := range []bool{false, true} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := compute.WithAllocator(context.Background(), mem)
		var s keyed.RowStore
		var sp *keyed.Spill
		if spill {
			sp = keyed.NewSpillWith("op-under-test", runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 1, Dir: t.TempDir()}, mem)
		}
		s.Init(rowSchema, sp)
		rng := rand.New(rand.NewSource(3))
		var next int64
		var refs []keyed.RowRef
		for c := range 6 {
			rec := randomBatch(rng, mem, 50, &next)
			chunk, err := s.Add(rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			switch c % 3 {
			case 0: // the whole chunk, in order
				for r := range 50 {
					refs = append(refs, keyed.RowRef{Chunk: chunk, Row: int32(r)})
				}
			case 1: // some rows, out of order, one twice
				refs = append(refs, keyed.RowRef{Chunk: chunk, Row: 7}, keyed.RowRef{Chunk: chunk, Row: 3}, keyed.RowRef{Chunk: chunk, Row: 7})
			}
		}
		want, err := s.Gather(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		wantRec := array.NewRecordBatch(rowSchema, want, int64(len(refs)))
		wantRows := opstest.Rows(wantRec)
		wantRec.Release()
		runtime.ReleaseAll(want)
		var got []string
		err = s.EachBatch(ctx, refs, func(rec arrow.RecordBatch) error {
			got = append(got, opstest.Rows(rec)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		sort.Strings(wantRows)
		opstest.Equal(t, got, wantRows)
		s.Release()
		mem.AssertSize(t, 0)
	}
}
