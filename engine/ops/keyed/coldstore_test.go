package keyed_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// A cold store writes batches of entries and rebuilds its filter from the keys it holds
// once the filter is over its size: afterwards every stored key passes it (none is
// lost) and most keys taken out no longer do.
func TestColdStoreRefilter(t *testing.T) {
	tc := runtime.NewStandaloneTaskCtx(context.Background(), memory.NewGoAllocator(), 0, 1, state.DefaultMaxParallelism)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 4 << 20, Dir: t.TempDir()}
	c := keyed.NewColdStore(tc, "op", "things")
	if c == nil {
		t.Fatal("no cold store with the Pebble backend and a cap")
	}
	defer c.Close()
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	c.Filter = keyed.NewKeyFilter(8192)
	hash := func(i int) uint64 { return expr.Mix64(uint64(i)) }
	// 30,000 keys written, each under a prefix byte and its hash, three chunks of 10,000.
	var b keyed.KeyedBatch
	for i := 0; i < 30000; i++ {
		b.Key()
		b.Buf = binary.BigEndian.AppendUint64(append(b.Buf, 'k'), hash(i))
		b.Value()
		b.Buf = fmt.Appendf(b.Buf, "value %d", i)
		c.Filter.Add(hash(i))
		if err := c.Flush(&b, 10000); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(&b, 0); err != nil {
		t.Fatal(err)
	}
	// The first 20,000 are read back (deleted from the store, left in the filter).
	var gone [][]byte
	for i := 0; i < 20000; i++ {
		gone = append(gone, binary.BigEndian.AppendUint64([]byte{'k'}, hash(i)))
	}
	if err := c.Store.DeleteKeys(gone); err != nil {
		t.Fatal(err)
	}
	c.N = 10000
	if !c.Filter.Full() {
		t.Fatal("30,000 keys should overfill a filter sized for 8,192")
	}
	if err := c.Refilter([]byte{'k'}, []byte{'l'}, 1); err != nil {
		t.Fatal(err)
	}
	if c.Filter.Keys() != 10000 || c.Filter.Full() {
		t.Fatalf("the rebuilt filter holds %d keys (full: %v), want the 10,000 stored", c.Filter.Keys(), c.Filter.Full())
	}
	kept := 0
	for i := 0; i < 30000; i++ {
		has := c.Filter.Has(hash(i))
		if i >= 20000 && !has {
			t.Fatalf("stored key %d is not in the rebuilt filter", i)
		}
		if i < 20000 && has {
			kept++
		}
	}
	if kept > 20000*6/100 {
		t.Fatalf("%d of the 20,000 keys read back still pass the rebuilt filter", kept)
	}
	if c.Written == 0 {
		t.Fatal("the bytes written were not counted")
	}
}
