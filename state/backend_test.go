package state

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/zeebo/xxh3"
)

// testTables exercises every kind, typed and opaque encodings and both TTL update types.
func testTables() []TableSpec {
	i64 := Encoding{Type: arrow.PrimitiveTypes.Int64}
	return []TableSpec{
		{Name: "v", Kind: Value, Key: i64, Value: Encoding{Type: arrow.BinaryTypes.String}},
		{Name: "v_ttl", Kind: Value, Key: i64, Value: Bytes, TTL: TTL{TTL: 40 * time.Millisecond, Update: OnReadAndWrite}},
		{Name: "l", Kind: List, Key: i64, Value: Bytes, TTL: TTL{TTL: 50 * time.Millisecond}},
		{Name: "m", Kind: Map, Key: i64, UserKey: Encoding{Type: arrow.PrimitiveTypes.Int32}, Value: Bytes,
			TTL: TTL{TTL: 30 * time.Millisecond, Update: OnReadAndWrite}},
	}
}

// ref is the oracle: plain Go maps with the TTL rules written out directly.
type refRec struct {
	v   string
	exp int64
}

type ref struct {
	specs  []TableSpec
	clock  *ManualClock
	values map[string]refRec            // table|kg|key
	lists  map[string][]refRec          // table|kg|key
	maps   map[string]map[string]refRec // table|kg|key -> user key
}

func newRef(specs []TableSpec, c *ManualClock) *ref {
	return &ref{specs: specs, clock: c, values: map[string]refRec{}, lists: map[string][]refRec{}, maps: map[string]map[string]refRec{}}
}

func rk(t Table, kg int, key []byte) string { return fmt.Sprintf("%d|%d|%x", t, kg, key) }

func (r *ref) exp(t Table) int64 {
	if r.specs[t].TTL.TTL == 0 {
		return 0
	}
	return r.clock.Ms + r.specs[t].TTL.TTL.Milliseconds()
}

func (r *ref) live(e int64) bool { return e == 0 || e > r.clock.Ms }

func (r *ref) get(t Table, kg int, key []byte) []byte {
	rec, ok := r.values[rk(t, kg, key)]
	if !ok || !r.live(rec.exp) {
		return nil
	}
	if r.specs[t].TTL.Update == OnReadAndWrite && rec.exp != 0 {
		rec.exp = r.exp(t)
		r.values[rk(t, kg, key)] = rec
	}
	return []byte(rec.v)
}

func (r *ref) getList(t Table, kg int, key []byte) [][]byte {
	var out [][]byte
	var kept []refRec
	for _, rec := range r.lists[rk(t, kg, key)] {
		if r.live(rec.exp) {
			out = append(out, []byte(rec.v))
			kept = append(kept, rec)
		}
	}
	r.lists[rk(t, kg, key)] = kept
	return out
}

func (r *ref) getMap(t Table, kg int, key, uk []byte) []byte {
	rec, ok := r.maps[rk(t, kg, key)][string(uk)]
	if !ok || !r.live(rec.exp) {
		return nil
	}
	if r.specs[t].TTL.Update == OnReadAndWrite && rec.exp != 0 {
		rec.exp = r.exp(t)
		r.maps[rk(t, kg, key)][string(uk)] = rec
	}
	return []byte(rec.v)
}

// dump lists every live entry of a key-group range, sorted, as text.
func (r *ref) dump(lo, hi int) []string {
	var out []string
	in := func(k string) (int, bool) {
		var t, kg int
		fmt.Sscanf(k, "%d|%d|", &t, &kg)
		return t, kg >= lo && kg < hi
	}
	for k, rec := range r.values {
		if t, ok := in(k); ok && r.live(rec.exp) {
			out = append(out, fmt.Sprintf("%s|%s|-|%x", r.specs[t].Name, k[strings.Index(k, "|")+1:], rec.v))
		}
	}
	for k, l := range r.lists {
		if t, ok := in(k); ok {
			i := 0
			for _, rec := range l {
				if r.live(rec.exp) {
					out = append(out, fmt.Sprintf("%s|%s|%d|%x", r.specs[t].Name, k[strings.Index(k, "|")+1:], i, rec.v))
					i++
				}
			}
		}
	}
	for k, m := range r.maps {
		if t, ok := in(k); ok {
			for uk, rec := range m {
				if r.live(rec.exp) {
					out = append(out, fmt.Sprintf("%s|%s|%x|%x", r.specs[t].Name, k[strings.Index(k, "|")+1:], uk, rec.v))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// dumpBackend lists a backend's live entries in the same form as ref.dump.
func dumpBackend(t *testing.T, b Backend, specs []TableSpec) []string {
	t.Helper()
	lo, hi := b.KeyGroups()
	var out []string
	for ti, spec := range specs {
		for kg := lo; kg < hi; kg++ {
			idx := map[string]int{}
			err := b.Scan(Table(ti), kg, func(key, uk, v []byte) error {
				switch spec.Kind {
				case Value:
					out = append(out, fmt.Sprintf("%s|%d|%x|-|%x", spec.Name, kg, key, v))
				case List:
					out = append(out, fmt.Sprintf("%s|%d|%x|%d|%x", spec.Name, kg, key, idx[string(key)], v))
					idx[string(key)]++
				case Map:
					out = append(out, fmt.Sprintf("%s|%d|%x|%x|%x", spec.Name, kg, key, uk, v))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Strings(out)
	return out
}

func keyGroupOf(key []byte, maxP int) int { return KeyGroup(xxh3.Hash(key), maxP) }

func newTestBackend(t *testing.T, kind string, specs []TableSpec, maxP, lo, hi int, c Clock) Backend {
	t.Helper()
	b, err := NewBackend(Options{Backend: kind, Tables: specs, MaxParallelism: maxP, KeyGroupStart: lo, KeyGroupEnd: hi,
		Clock: c, Dir: filepath.Join(t.TempDir(), "db"), MemoryLimit: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// cluster routes operations to the subtask owning each key group.
type cluster struct {
	maxP int
	subs []Backend
}

func (c *cluster) owner(kg int) Backend { return c.subs[Subtask(kg, c.maxP, len(c.subs))] }

func newCluster(t *testing.T, kind string, specs []TableSpec, maxP, p int, clock Clock) *cluster {
	c := &cluster{maxP: maxP}
	for s := 0; s < p; s++ {
		lo, hi := Range(s, maxP, p)
		c.subs = append(c.subs, newTestBackend(t, kind, specs, maxP, lo, hi, clock))
	}
	return c
}

func (c *cluster) dump(t *testing.T, specs []TableSpec) []string {
	var out []string
	for _, b := range c.subs {
		out = append(out, dumpBackend(t, b, specs)...)
	}
	sort.Strings(out)
	return out
}

func i64key(k int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(k)) }

// runRandomOps applies a random sequence of batched operations to every cluster and the
// reference, and checks every read against the reference.
func runRandomOps(t *testing.T, rng *rand.Rand, n int, clock *ManualClock, r *ref, cs []*cluster) {
	t.Helper()
	maxP := cs[0].maxP
	for step := 0; step < n; step++ {
		if rng.Intn(10) == 0 {
			clock.Ms += int64(rng.Intn(20))
		}
		kg := rng.Intn(maxP)
		var keys [][]byte
		for len(keys) < 1+rng.Intn(6) {
			keys = append(keys, i64key(rng.Intn(400)))
		}
		tbl := Table(rng.Intn(len(r.specs)))
		kind := r.specs[tbl].Kind
		vals := make([][]byte, len(keys))
		uks := make([][]byte, len(keys))
		for i := range keys {
			vals[i] = []byte(fmt.Sprintf("v%d", rng.Intn(1000)))
			uks[i] = binary.LittleEndian.AppendUint32(nil, uint32(rng.Intn(5)))
		}
		op := rng.Intn(4) // 0, 1: write; 2: read; 3: delete
		delMap := kind == Map && rng.Intn(2) == 0
		if op == 2 {
			for i, k := range keys {
				var want string
				switch kind {
				case Value:
					want = fmt.Sprintf("%q", r.get(tbl, kg, k))
				case List:
					want = fmt.Sprintf("%q", r.getList(tbl, kg, k))
				case Map:
					want = fmt.Sprintf("%q", r.getMap(tbl, kg, k, uks[i]))
				}
				for ci, c := range cs {
					b := c.owner(kg)
					var got string
					switch kind {
					case Value:
						v, err := b.Get(tbl, kg, [][]byte{k}, nil)
						if err != nil {
							t.Fatal(err)
						}
						got = fmt.Sprintf("%q", v[0])
					case List:
						v, err := b.GetList(tbl, kg, [][]byte{k}, nil)
						if err != nil {
							t.Fatal(err)
						}
						got = fmt.Sprintf("%q", v[0])
					case Map:
						v, err := b.GetMap(tbl, kg, [][]byte{k}, [][]byte{uks[i]}, nil)
						if err != nil {
							t.Fatal(err)
						}
						got = fmt.Sprintf("%q", v[0])
					}
					if got != want {
						t.Fatalf("step %d: backend %d, table %s, key %x: got %s, reference %s", step, ci, r.specs[tbl].Name, k, got, want)
					}
				}
			}
			continue
		}
		for _, c := range cs {
			b := c.owner(kg)
			var err error
			switch {
			case op == 3 && delMap:
				err = b.DeleteMap(tbl, kg, keys, uks)
			case op == 3:
				err = b.Delete(tbl, kg, keys)
			case kind == Value:
				err = b.Put(tbl, kg, keys, vals)
			case kind == List:
				err = b.Append(tbl, kg, keys, vals)
			case kind == Map:
				err = b.PutMap(tbl, kg, keys, uks, vals)
			}
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		for i, k := range keys {
			key := rk(tbl, kg, k)
			switch {
			case op == 3 && delMap:
				delete(r.maps[key], string(uks[i]))
			case op == 3:
				delete(r.values, key)
				delete(r.lists, key)
				delete(r.maps, key)
			case kind == Value:
				r.values[key] = refRec{string(vals[i]), r.exp(tbl)}
			case kind == List:
				r.lists[key] = append(r.lists[key], refRec{string(vals[i]), r.exp(tbl)})
			case kind == Map:
				if r.maps[key] == nil {
					r.maps[key] = map[string]refRec{}
				}
				r.maps[key][string(uks[i])] = refRec{string(vals[i]), r.exp(tbl)}
			}
		}
	}
}

func checkDump(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, reference has %d\ngot  %v\nwant %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: entry %d is %s, reference %s", what, i, got[i], want[i])
		}
	}
}

func head(s []string) []string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// Memory and Pebble give the same answers as a plain-map reference on random batched
// operation sequences, with TTL expiry driven by a manual clock; full scans agree too.
func TestBackendsMatchReference(t *testing.T) {
	specs := testTables()
	for seed := int64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewSource(seed))
		clock := &ManualClock{Ms: 1_000_000}
		r := newRef(specs, clock)
		const maxP = 16
		cs := []*cluster{
			newCluster(t, MemoryBackend, specs, maxP, 1, clock),
			newCluster(t, PebbleBackend, specs, maxP, 2, clock),
		}
		for round := 0; round < 4; round++ {
			runRandomOps(t, rng, 1500, clock, r, cs)
			want := r.dump(0, maxP)
			checkDump(t, fmt.Sprintf("seed %d memory scan", seed), cs[0].dump(t, specs), want)
			checkDump(t, fmt.Sprintf("seed %d pebble scan", seed), cs[1].dump(t, specs), want)
		}
	}
}

// Expired entries are never returned, whatever the access path.
func TestTTLNeverReturnsExpired(t *testing.T) {
	specs := testTables()
	for _, kind := range []string{MemoryBackend, PebbleBackend} {
		clock := &ManualClock{Ms: 1000}
		b := newTestBackend(t, kind, specs, 4, 0, 4, clock)
		k := [][]byte{i64key(1)}
		if err := b.Put(1, 2, k, [][]byte{[]byte("x")}); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(2, 2, k, [][]byte{[]byte("a")}); err != nil {
			t.Fatal(err)
		}
		clock.Ms += 30
		if err := b.Append(2, 2, k, [][]byte{[]byte("b")}); err != nil {
			t.Fatal(err)
		}
		// v_ttl is OnReadAndWrite: this read at +30 extends it to +70.
		if got, _ := b.Get(1, 2, k, nil); string(got[0]) != "x" {
			t.Fatalf("%s: value read before expiry = %q", kind, got[0])
		}
		clock.Ms += 25 // +55: the first list element (written at +0, TTL 50) is expired
		if got, _ := b.GetList(2, 2, k, nil); fmt.Sprint(got[0]) != "[[98]]" {
			t.Fatalf("%s: list after partial expiry = %q, want [b]", kind, got[0])
		}
		if got, _ := b.Get(1, 2, k, nil); string(got[0]) != "x" {
			t.Fatalf("%s: value refreshed on read expired early", kind)
		}
		clock.Ms += 100
		if got, _ := b.Get(1, 2, k, nil); got[0] != nil {
			t.Fatalf("%s: expired value returned: %q", kind, got[0])
		}
		if got, _ := b.GetList(2, 2, k, nil); got[0] != nil {
			t.Fatalf("%s: expired list returned: %q", kind, got[0])
		}
		if d := dumpBackend(t, b, specs); len(d) != 0 {
			t.Fatalf("%s: scan returned expired entries %v", kind, d)
		}
	}
}

// Bad calls get clear errors.
func TestBackendErrors(t *testing.T) {
	b := newTestBackend(t, MemoryBackend, testTables(), 8, 2, 4, SystemClock{})
	if err := b.Put(0, 5, [][]byte{i64key(1)}, [][]byte{[]byte("x")}); err == nil || !strings.Contains(err.Error(), "key group 5 is not owned") {
		t.Fatalf("foreign key group: %v", err)
	}
	if err := b.Append(0, 2, [][]byte{i64key(1)}, [][]byte{[]byte("x")}); err == nil || !strings.Contains(err.Error(), `on table "v": the table is a value table`) {
		t.Fatalf("wrong kind: %v", err)
	}
	if err := b.Put(0, 2, [][]byte{i64key(1)}, nil); err == nil || !strings.Contains(err.Error(), "1 keys but 0 values") {
		t.Fatalf("length mismatch: %v", err)
	}
	if _, err := NewBackend(Options{Backend: "rocks"}); err == nil || !strings.Contains(err.Error(), `unknown state backend "rocks"`) {
		t.Fatalf("unknown backend: %v", err)
	}
}

// The Pebble backend holds state ten times its memory cap: it spills to SSTs and reads
// back every value.
func TestPebbleStateBeyondMemoryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB")
	}
	specs := []TableSpec{{Name: "big", Kind: Value}}
	b, err := NewBackend(Options{Backend: PebbleBackend, Tables: specs, MaxParallelism: 4, Dir: t.TempDir(), MemoryLimit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n, size = 40_000, 1024
	// Incompressible values, derived from the key.
	val := func(i int) []byte {
		v := make([]byte, size)
		rand.New(rand.NewSource(int64(i))).Read(v)
		return v
	}
	for kg := 0; kg < 4; kg++ {
		for i := kg; i < n; i += 4 * 500 {
			var keys, vals [][]byte
			for j := i; j < n && j < i+4*500; j += 4 {
				keys, vals = append(keys, i64key(j)), append(vals, val(j))
			}
			if err := b.Put(0, kg, keys, vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	ps := b.(*pebbleStore)
	if m := ps.db.Metrics(); m.DiskSpaceUsage() < 10<<20 {
		t.Fatalf("only %d bytes on disk: state did not spill", m.DiskSpaceUsage())
	}
	for i := 0; i < n; i += 37 {
		got, err := b.Get(0, i%4, [][]byte{i64key(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[0]) != string(val(i)) {
			t.Fatalf("key %d: got %.20q", i, got[0])
		}
	}
}
