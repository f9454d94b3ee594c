package statetest

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
	"github.com/riverbed-engine/riverbed/state"
	"github.com/zeebo/xxh3"
)

// Tables exercises every kind, typed and opaque encodings and both TTL update types.
func Tables() []state.TableSpec {
	i64 := state.Encoding{Type: arrow.PrimitiveTypes.Int64}
	return []state.TableSpec{
		{Name: "v", Kind: state.Value, Key: i64, Value: state.Encoding{Type: arrow.BinaryTypes.String}},
		{Name: "v_ttl", Kind: state.Value, Key: i64, Value: state.Bytes, TTL: state.TTL{TTL: 40 * time.Millisecond, Update: state.OnReadAndWrite}},
		{Name: "l", Kind: state.List, Key: i64, Value: state.Bytes, TTL: state.TTL{TTL: 50 * time.Millisecond}},
		{Name: "m", Kind: state.Map, Key: i64, UserKey: state.Encoding{Type: arrow.PrimitiveTypes.Int32}, Value: state.Bytes,
			TTL: state.TTL{TTL: 30 * time.Millisecond, Update: state.OnReadAndWrite}},
	}
}

type refRec struct {
	v   string
	exp int64
}

// Ref is the oracle: plain Go maps with the TTL rules written out directly.
type Ref struct {
	specs  []state.TableSpec
	clock  *state.ManualClock
	values map[string]refRec            // table|kg|key
	lists  map[string][]refRec          // table|kg|key
	maps   map[string]map[string]refRec // table|kg|key -> user key
}

// NewRef returns an empty reference whose TTLs run on clock c.
func NewRef(specs []state.TableSpec, c *state.ManualClock) *Ref {
	return &Ref{specs: specs, clock: c, values: map[string]refRec{}, lists: map[string][]refRec{}, maps: map[string]map[string]refRec{}}
}

func rk(t state.Table, kg int, key []byte) string { return fmt.Sprintf("%d|%d|%x", t, kg, key) }

func (r *Ref) exp(t state.Table) int64 {
	if r.specs[t].TTL.TTL == 0 {
		return 0
	}
	return r.clock.Ms + r.specs[t].TTL.TTL.Milliseconds()
}

func (r *Ref) live(e int64) bool { return e == 0 || e > r.clock.Ms }

func (r *Ref) get(t state.Table, kg int, key []byte) []byte {
	rec, ok := r.values[rk(t, kg, key)]
	if !ok || !r.live(rec.exp) {
		return nil
	}
	if r.specs[t].TTL.Update == state.OnReadAndWrite && rec.exp != 0 {
		rec.exp = r.exp(t)
		r.values[rk(t, kg, key)] = rec
	}
	return []byte(rec.v)
}

func (r *Ref) getList(t state.Table, kg int, key []byte) [][]byte {
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

func (r *Ref) getMap(t state.Table, kg int, key, uk []byte) []byte {
	rec, ok := r.maps[rk(t, kg, key)][string(uk)]
	if !ok || !r.live(rec.exp) {
		return nil
	}
	if r.specs[t].TTL.Update == state.OnReadAndWrite && rec.exp != 0 {
		rec.exp = r.exp(t)
		r.maps[rk(t, kg, key)][string(uk)] = rec
	}
	return []byte(rec.v)
}

// Dump lists every live entry of a key-group range, sorted, as text.
func (r *Ref) Dump(lo, hi int) []string {
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

// DumpBackend lists a backend's live entries in the same form as Ref.Dump.
func DumpBackend(t *testing.T, b state.Backend, specs []state.TableSpec) []string {
	t.Helper()
	lo, hi := b.KeyGroups()
	var out []string
	for ti, spec := range specs {
		for kg := lo; kg < hi; kg++ {
			idx := map[string]int{}
			err := b.Scan(state.Table(ti), kg, func(key, uk, v []byte) error {
				switch spec.Kind {
				case state.Value:
					out = append(out, fmt.Sprintf("%s|%d|%x|-|%x", spec.Name, kg, key, v))
				case state.List:
					out = append(out, fmt.Sprintf("%s|%d|%x|%d|%x", spec.Name, kg, key, idx[string(key)], v))
					idx[string(key)]++
				case state.Map:
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

// KeyGroupOf is the key group of key, hashed as the engine hashes keys.
func KeyGroupOf(key []byte, maxP int) int { return state.KeyGroup(xxh3.Hash(key), maxP) }

// BeginCheckpoint opens checkpoint storage in a fresh temporary directory and begins
// checkpoint id in it.
func BeginCheckpoint(t *testing.T, id uint64) (*state.Storage, *state.Writer) {
	t.Helper()
	st, err := state.NewStorage(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.Begin(id)
	if err != nil {
		t.Fatal(err)
	}
	return st, w
}

// NewBackend creates a backend of kind owning key groups [lo, hi) of maxP, closed when the
// test ends.
func NewBackend(t *testing.T, kind string, specs []state.TableSpec, maxP, lo, hi int, c state.Clock) state.Backend {
	t.Helper()
	b, err := state.NewBackend(state.Options{Backend: kind, Tables: specs, MaxParallelism: maxP, KeyGroupStart: lo, KeyGroupEnd: hi,
		Clock: c, Dir: filepath.Join(t.TempDir(), "db"), MemoryLimit: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Cluster routes operations to the subtask owning each key group.
type Cluster struct {
	MaxP int
	Subs []state.Backend
}

// Owner is the subtask backend owning key group kg.
func (c *Cluster) Owner(kg int) state.Backend { return c.Subs[state.Subtask(kg, c.MaxP, len(c.Subs))] }

// NewCluster creates p subtask backends of kind, each owning its key-group range.
func NewCluster(t *testing.T, kind string, specs []state.TableSpec, maxP, p int, clock state.Clock) *Cluster {
	c := &Cluster{MaxP: maxP}
	for s := 0; s < p; s++ {
		lo, hi := state.Range(s, maxP, p)
		c.Subs = append(c.Subs, NewBackend(t, kind, specs, maxP, lo, hi, clock))
	}
	return c
}

// Dump lists the live entries of every subtask, sorted, as Ref.Dump does.
func (c *Cluster) Dump(t *testing.T, specs []state.TableSpec) []string {
	var out []string
	for _, b := range c.Subs {
		out = append(out, DumpBackend(t, b, specs)...)
	}
	sort.Strings(out)
	return out
}

// I64Key is the encoded int64 key k.
func I64Key(k int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(k)) }

// RunRandomOps applies a random sequence of batched operations to every cluster and the
// reference, and checks every read against the reference.
func RunRandomOps(t *testing.T, rng *rand.Rand, n int, clock *state.ManualClock, r *Ref, cs []*Cluster) {
	t.Helper()
	maxP := cs[0].MaxP
	for step := 0; step < n; step++ {
		if rng.Intn(10) == 0 {
			clock.Ms += int64(rng.Intn(20))
		}
		kg := rng.Intn(maxP)
		var keys [][]byte
		for len(keys) < 1+rng.Intn(6) {
			keys = append(keys, I64Key(rng.Intn(400)))
		}
		tbl := state.Table(rng.Intn(len(r.specs)))
		kind := r.specs[tbl].Kind
		vals := make([][]byte, len(keys))
		uks := make([][]byte, len(keys))
		for i := range keys {
			vals[i] = []byte(fmt.Sprintf("v%d", rng.Intn(1000)))
			uks[i] = binary.LittleEndian.AppendUint32(nil, uint32(rng.Intn(5)))
		}
		op := rng.Intn(4) // 0, 1: write; 2: read; 3: delete
		delMap := kind == state.Map && rng.Intn(2) == 0
		if op == 2 {
			for i, k := range keys {
				var want string
				switch kind {
				case state.Value:
					want = fmt.Sprintf("%q", r.get(tbl, kg, k))
				case state.List:
					want = fmt.Sprintf("%q", r.getList(tbl, kg, k))
				case state.Map:
					want = fmt.Sprintf("%q", r.getMap(tbl, kg, k, uks[i]))
				}
				for ci, c := range cs {
					b := c.Owner(kg)
					var got string
					switch kind {
					case state.Value:
						v, err := b.Get(tbl, kg, [][]byte{k}, nil)
						if err != nil {
							t.Fatal(err)
						}
						got = fmt.Sprintf("%q", v[0])
					case state.List:
						v, err := b.GetList(tbl, kg, [][]byte{k}, nil)
						if err != nil {
							t.Fatal(err)
						}
						got = fmt.Sprintf("%q", v[0])
					case state.Map:
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
			b := c.Owner(kg)
			var err error
			switch {
			case op == 3 && delMap:
				err = b.DeleteMap(tbl, kg, keys, uks)
			case op == 3:
				err = b.Delete(tbl, kg, keys)
			case kind == state.Value:
				err = b.Put(tbl, kg, keys, vals)
			case kind == state.List:
				err = b.Append(tbl, kg, keys, vals)
			case kind == state.Map:
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
			case kind == state.Value:
				r.values[key] = refRec{string(vals[i]), r.exp(tbl)}
			case kind == state.List:
				r.lists[key] = append(r.lists[key], refRec{string(vals[i]), r.exp(tbl)})
			case kind == state.Map:
				if r.maps[key] == nil {
					r.maps[key] = map[string]refRec{}
				}
				r.maps[key][string(uks[i])] = refRec{string(vals[i]), r.exp(tbl)}
			}
		}
	}
}

// CheckDump fails the test unless got equals want (both sorted).
func CheckDump(t *testing.T, what string, got, want []string) {
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

// Sorted returns a sorted copy of s.
func Sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
