package state

import (
	"sync"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// SpillStore keeps values that an operator subtask moved out of memory (the row chunks
// of its row stores, Arrow IPC-encoded) under keys the operator chooses, on local disk,
// for the life of the subtask. It is not part of any checkpoint: a checkpoint saves an
// operator's state through a Backend, reading spilled values back as it goes. A store is
// owned by one subtask and is not safe for concurrent use.
type SpillStore interface {
	// Put stores value under key (the store copies it). A full disk is an error, here or
	// at a later call; the store never blocks on it.
	Put(key uint64, value []byte) error
	// Get calls fn with the value stored under key; the value is valid only during fn.
	// A missing or damaged value is an error (of kind Data).
	Get(key uint64, fn func(value []byte) error) error
	// Delete forgets key.
	Delete(key uint64) error
	// Close releases the store and removes its files.
	Close() error
}

// KeyedSpillStore is a spill store that also keeps values under byte keys of the
// operator's choosing, looked up by content (an updating group_by keeps its groups beyond
// its memory cap under their encoded keys, EncodeRow). An operator uses one kind of key
// per store, never both. The Pebble backend's spill stores are keyed spill stores.
type KeyedSpillStore interface {
	SpillStore
	// PutKeys stores values[i] under keys[i], in one write (the store copies them).
	PutKeys(keys, values [][]byte) error
	// GetKeys looks keys up, in ascending order (the caller sorts them), and calls fn with
	// the index and the value of each one stored, valid only during fn; a missing key is
	// not an error. fn must not call the store.
	GetKeys(keys [][]byte, fn func(i int, value []byte) error) error
	// DeleteKey forgets key.
	DeleteKey(key []byte) error
	// DeleteKeys forgets keys, in one write.
	DeleteKeys(keys [][]byte) error
	// DeleteRange forgets the keys from lo (included) to hi (excluded), in one write that
	// later reads pass over at once (where a deleted key each costs them a step).
	DeleteRange(lo, hi []byte) error
	// ScanKeys calls fn for every value, in key order; the slices are valid only during
	// fn, which must not call the store.
	ScanKeys(fn func(key, value []byte) error) error
	// ScanRange is ScanKeys over the keys from lo (included) to hi (excluded); a nil
	// bound is open. An error from fn ends the scan and is returned.
	ScanRange(lo, hi []byte, fn func(key, value []byte) error) error
	// PutSorted starts a write of entries given in strictly ascending key order, each
	// replacing its key's value: none is visible before Finish, and Abort drops them.
	// Reads of keys outside the entries given so far may go on meanwhile.
	PutSorted() (SortedWriter, error)
}

// SortedWriter is a write of a KeyedSpillStore's entries in ascending key order.
type SortedWriter interface {
	// Put adds an entry; its key must sort after the previous one's.
	Put(key, value []byte) error
	// Finish stores the entries put.
	Finish() error
	// Abort drops them, unless Finish was called; it may always be called.
	Abort()
}

// SpillOptions configure a SpillStore.
type SpillOptions struct {
	// Dir is where the store keeps its files: it works in a fresh sub-directory of Dir
	// (created if missing), removed by Close.
	Dir string
	// MemoryLimit caps the store's own buffers (write buffers and read cache), in bytes.
	MemoryLimit int64
	// ByKey: the store is used as a KeyedSpillStore, its values overwritten anywhere in
	// its key space (the Pebble store takes larger memtables and compacts less often).
	ByKey bool
}

// SpillFactory opens an empty spill store.
type SpillFactory func(opts SpillOptions) (SpillStore, error)

var spillStores = map[string]SpillFactory{}
var spillMu sync.RWMutex

// RegisterSpillStore makes a spill store available to NewSpillStore for jobs whose state
// backend is backend (package pebblestate registers PebbleBackend's). It panics if
// backend already has one.
func RegisterSpillStore(backend string, f SpillFactory) {
	spillMu.Lock()
	defer spillMu.Unlock()
	if _, dup := spillStores[backend]; dup {
		panic("state: spill store of " + backend + " registered twice")
	}
	spillStores[backend] = f
}

// Spills reports whether operators of a job with state backend backend move row state
// out of memory: whether a spill store is registered for it. The memory backend keeps
// everything in memory.
func Spills(backend string) bool {
	spillMu.RLock()
	defer spillMu.RUnlock()
	return spillStores[backend] != nil
}

// NewSpillStore opens an empty spill store of the state backend backend.
func NewSpillStore(backend string, opts SpillOptions) (SpillStore, error) {
	spillMu.RLock()
	f := spillStores[backend]
	spillMu.RUnlock()
	if f == nil {
		if backend == PebbleBackend {
			return nil, rberr.New(rberr.InvalidArgument, "state backend %q is not linked into this program (import %s)", PebbleBackend, pebblePackage)
		}
		return nil, rberr.New(rberr.InvalidArgument, "state backend %q cannot move state out of memory", backend)
	}
	if opts.Dir == "" {
		return nil, rberr.New(rberr.InvalidArgument, "a spill store needs a working directory")
	}
	return f(opts)
}

// NewKeyedSpillStore opens an empty spill store of backend kept by key (opts.ByKey).
func NewKeyedSpillStore(backend string, opts SpillOptions) (KeyedSpillStore, error) {
	opts.ByKey = true
	s, err := NewSpillStore(backend, opts)
	if err != nil {
		return nil, err
	}
	ks, ok := s.(KeyedSpillStore)
	if !ok {
		_ = s.Close()
		return nil, rberr.New(rberr.Internal, "the %s spill store cannot keep values by key", backend)
	}
	return ks, nil
}
