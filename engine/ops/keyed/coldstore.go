package keyed

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// ColdStore is the keyed spill store of an operator subtask that keeps the state of the
// keys it used longest ago beyond its memory cap, by key (an updating group_by's groups,
// session windows' sessions, frames' partitions), as Flink keeps keyed state in RocksDB.
// It is opened at its first write; a quarter of the cap goes to it (StoreMemory), the rest to the
// operator's tables (TableLimit).
type ColdStore struct {
	Store   state.KeyedSpillStore // nil until Open
	N       int                   // keys in the store, kept by the operator
	Written int64                 // bytes ever written to it
	Filter  KeyFilter             // the stored keys' hashes, for operators that keep them

	op      string
	what    string // what it keeps, for errors: "groups", "sessions"...
	cfg     runtime.SpillConfig
	metrics *runtime.SpillMetrics
	shown   int64
}

// NewColdStore returns the cold store of operator op, which keeps what ("groups",
// "sessions"...), or nil when the job keeps state in memory (no cap, or a backend that
// does not spill).
func NewColdStore(tc *runtime.TaskCtx, op, what string) *ColdStore {
	cfg := tc.Spill()
	if cfg.MemoryLimit <= 0 || cfg.Backend == "" || !state.Spills(cfg.Backend) {
		return nil
	}
	c := &ColdStore{op: op, what: what, cfg: cfg}
	if tc.Metrics != nil {
		c.metrics = &tc.Metrics.Spill
	}
	return c
}

// StoreMemory is the memory of the keyed spill store of an operator subtask with memory
// cap limit: its memtables and block cache, a quarter of the cap. With state ten times
// the cap the store is read across in full between writes, so its cache holds little
// that is read again, while the operator's share sets how many rows wait for one pass
// over it (an updating group_by: half the cap to the store took a tenth longer).
func StoreMemory(limit int64) int64 { return min(max(limit/4, 2<<20), 256<<20) }

// TableLimit is the memory the operator's tables may hold.
func (c *ColdStore) TableLimit() int64 {
	return max(c.cfg.MemoryLimit-StoreMemory(c.cfg.MemoryLimit), 1)
}

// Open opens the store unless it is open.
func (c *ColdStore) Open() error {
	if c.Store != nil {
		return nil
	}
	s, err := state.NewKeyedSpillStore(c.cfg.Backend, state.SpillOptions{Dir: c.cfg.Dir, MemoryLimit: StoreMemory(c.cfg.MemoryLimit)})
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s: cannot open the store for %s beyond state_memory_limit", c.op, c.what)
	}
	c.Store = s
	return nil
}

// Refilter rebuilds Filter, sized for twice the N keys stored, once it holds more keys
// than it was sized for (keys read back stay in it until then): a scan of the store's
// keys from lo to hi, each holding its hash (big-endian) at byte at.
func (c *ColdStore) Refilter(lo, hi []byte, at int) error {
	if !c.Filter.Full() {
		return nil
	}
	f := NewKeyFilter(2 * c.N)
	err := c.Store.ScanRange(lo, hi, func(k, _ []byte) error {
		if len(k) < at+8 {
			return rberr.New(rberr.Data, "%s: a damaged key in the store of its %s", c.op, c.what)
		}
		f.Add(binary.BigEndian.Uint64(k[at:]))
		return nil
	})
	if err != nil {
		return c.Wrap(err, "reading the keys of")
	}
	c.Filter = f
	return nil
}

// Close closes the store (which removes its files) and shows no tables in memory.
func (c *ColdStore) Close() {
	if c == nil {
		return
	}
	if c.Store != nil {
		_ = c.Store.Close()
		c.Store = nil
	}
	c.Show(0)
}

// Show sets the bytes of tables in memory the metrics show (spill_resident_bytes).
func (c *ColdStore) Show(n int64) {
	if c.metrics != nil {
		c.metrics.Resident.Add(n - c.shown)
	}
	c.shown = n
}

// Op is the operator's name.
func (c *ColdStore) Op() string { return c.op }

// Shown is the bytes last shown.
func (c *ColdStore) Shown() int64 { return c.shown }

// Wrap wraps err of the store met while doing (reading, writing...) with the operator
// and what it keeps.
func (c *ColdStore) Wrap(err error, doing string) error {
	return rberr.Wrap(rberr.KindOf(err), err, "%s: %s %s beyond state_memory_limit", c.op, doing, c.what)
}

// Read counts bytes read back from the store in the metrics.
func (c *ColdStore) Read(n int64) {
	if c.metrics != nil {
		c.metrics.Read.Add(n)
	}
}

// Flush writes the entries of b to the store (one PutKeys) once it holds at least n of
// them (n of 0: any), counts them in the metrics and empties b.
func (c *ColdStore) Flush(b *KeyedBatch, n int) error {
	if b.Len() == 0 || b.Len() < n {
		return nil
	}
	return c.put(b)
}

func (c *ColdStore) put(b *KeyedBatch) error {
	ks, vs := b.entries()
	if err := c.Store.PutKeys(ks, vs); err != nil {
		return c.Wrap(err, "writing")
	}
	c.wrote(b)
	return nil
}

// WriteSorted writes the entries of b to sw in key order, counts them in the metrics and
// empties b. Their keys must be distinct, and after those sw was given before.
func (c *ColdStore) WriteSorted(b *KeyedBatch, sw state.SortedWriter) error {
	ks, vs := b.entries()
	order := make([]int, len(ks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return bytes.Compare(ks[x], ks[y]) })
	for _, i := range order {
		if err := sw.Put(ks[i], vs[i]); err != nil {
			return c.Wrap(err, "writing")
		}
	}
	c.wrote(b)
	return nil
}

// wrote counts the entries of b as written and empties it.
func (c *ColdStore) wrote(b *KeyedBatch) {
	c.Written += int64(len(b.Buf))
	if c.metrics != nil {
		c.metrics.Written.Add(int64(len(b.Buf)))
	}
	b.Reset()
}

// entries is the keys and values of b's entries (parts of Buf).
func (b *KeyedBatch) entries() (ks, vs [][]byte) {
	n := len(b.offs) / 2
	ks, vs = make([][]byte, n), make([][]byte, n)
	for i := range ks {
		end := len(b.Buf)
		if i+1 < n {
			end = b.offs[2*i+2]
		}
		ks[i], vs[i] = b.Buf[b.offs[2*i]:b.offs[2*i+1]], b.Buf[b.offs[2*i+1]:end]
	}
	return ks, vs
}

// KeyedBatch gathers entries for a keyed spill store in one buffer: each entry's key is
// appended to Buf after Key, its value after Value. ColdStore.Flush writes them.
type KeyedBatch struct {
	Buf  []byte
	offs []int // each entry's key start and value start
}

// Key starts an entry: its key follows in Buf.
func (b *KeyedBatch) Key() { b.offs = append(b.offs, len(b.Buf)) }

// Value starts the entry's value.
func (b *KeyedBatch) Value() { b.offs = append(b.offs, len(b.Buf)) }

// Reset empties b, keeping its memory.
func (b *KeyedBatch) Reset() { b.Buf, b.offs = b.Buf[:0], b.offs[:0] }

// Len is the number of entries.
func (b *KeyedBatch) Len() int { return len(b.offs) / 2 }
