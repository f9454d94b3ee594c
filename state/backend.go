package state

import (
	"sync"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Backend names.
const (
	MemoryBackend = "memory"
	// PebbleBackend is provided by package state/pebblestate, which registers it when
	// imported; package state itself does not link Pebble in.
	PebbleBackend = "pebble"
)

// pebblePackage is the package a program imports to get the Pebble backend.
const pebblePackage = "github.com/riverbed-engine/riverbed/state/pebblestate"

// DefaultPebbleMemory is the memory cap of a Pebble backend when Options.MemoryLimit is 0.
const DefaultPebbleMemory = 64 << 20

// Options configure a Backend: one operator subtask's keyed state.
type Options struct {
	// Backend is MemoryBackend (the default), PebbleBackend (when package pebblestate is
	// imported) or another registered backend.
	Backend string
	// Tables are the operator's state tables; Table(i) is Tables[i].
	Tables []TableSpec
	// MaxParallelism is the number of key groups (DefaultMaxParallelism if 0).
	MaxParallelism int
	// KeyGroupStart and KeyGroupEnd are the key groups [start, end) the subtask owns; both
	// zero means all key groups.
	KeyGroupStart, KeyGroupEnd int
	// Clock gives processing time for TTL (SystemClock if nil).
	Clock Clock
	// Dir is where the Pebble backend keeps its working files (required for it; created if
	// missing). The backend works in a fresh sub-directory of its own, deleted by Close:
	// state comes only from Restore, never from an earlier working directory.
	Dir string
	// MemoryLimit caps the Pebble backend's memory (block cache plus memtables), in bytes.
	MemoryLimit int64
}

func (o *Options) ensureDefaults() error {
	if o.Backend == "" {
		o.Backend = MemoryBackend
	}
	if o.MaxParallelism == 0 {
		o.MaxParallelism = DefaultMaxParallelism
	}
	if o.MaxParallelism < 1 || o.MaxParallelism > MaxKeyGroups {
		return rberr.New(rberr.InvalidArgument, "max parallelism %d out of range [1, %d]", o.MaxParallelism, MaxKeyGroups)
	}
	if o.KeyGroupStart == 0 && o.KeyGroupEnd == 0 {
		o.KeyGroupEnd = o.MaxParallelism
	}
	if o.KeyGroupStart < 0 || o.KeyGroupEnd > o.MaxParallelism || o.KeyGroupStart >= o.KeyGroupEnd {
		return rberr.New(rberr.InvalidArgument, "key-group range [%d, %d) outside [0, %d)", o.KeyGroupStart, o.KeyGroupEnd, o.MaxParallelism)
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultPebbleMemory
	}
	return validateTables(o.Tables)
}

// Backend holds the keyed state of one operator subtask: its declared tables, for the key
// groups it owns. Every call addresses one table and one key group and takes a batch of
// keys, so operators make one call per (table, key group) per input batch, not one per row.
//
// Ownership and concurrency: a Backend is owned by one subtask and is not safe for
// concurrent use. Byte slices passed in may be reused by the caller after the call returns
// (the backend copies what it keeps). Byte slices returned are owned by the backend, must
// not be modified, and are valid only until the next call on the backend.
//
// Expired entries (see TTL) are never returned.
type Backend interface {
	// KeyGroups returns the key groups [start, end) the backend owns.
	KeyGroups() (start, end int)
	// Table returns the table declared with name.
	Table(name string) (Table, bool)

	// Get looks up keys in a Value table; the result (appended to dst[:0]) holds nil for a
	// missing key.
	Get(t Table, kg int, keys [][]byte, dst [][]byte) ([][]byte, error)
	// Put sets keys[i] to values[i] in a Value table.
	Put(t Table, kg int, keys, values [][]byte) error
	// Delete removes all state of keys in a table of any kind.
	Delete(t Table, kg int, keys [][]byte) error

	// GetList returns the lists of keys in a List table (nil for an empty list).
	GetList(t Table, kg int, keys [][]byte, dst [][][]byte) ([][][]byte, error)
	// Append appends values[i] to the list of keys[i] in a List table.
	Append(t Table, kg int, keys, values [][]byte) error

	// GetMap looks up (keys[i], userKeys[i]) in a Map table; nil for a missing entry.
	GetMap(t Table, kg int, keys, userKeys [][]byte, dst [][]byte) ([][]byte, error)
	// PutMap sets (keys[i], userKeys[i]) to values[i] in a Map table.
	PutMap(t Table, kg int, keys, userKeys, values [][]byte) error
	// DeleteMap removes (keys[i], userKeys[i]) from a Map table.
	DeleteMap(t Table, kg int, keys, userKeys [][]byte) error

	// Scan calls fn for every live entry of one key group of a table: (key, nil, value)
	// for Value tables, (key, nil, element) for each list element in order, (key, user
	// key, value) for Map tables. Key order is unspecified. fn must not call the backend.
	Scan(t Table, kg int, fn func(key, userKey, value []byte) error) error

	// Snapshot writes the state of every owned key group into a checkpoint (for a savepoint
	// writer, a portable copy) and records its handle under operator opID.
	Snapshot(w *Writer, opID string) error
	// Restore loads, into an empty backend, the owned key groups of operator opID from
	// one or more snapshots, which may have been taken at any parallelism and by either
	// backend. A snapshot without state for opID contributes nothing.
	Restore(cps []*Checkpoint, opID string) error

	// Close releases the backend's resources (and, for Pebble, its working files).
	Close() error
}

// BackendFactory creates an empty backend from options whose defaults are already applied
// and validated (key-group range, tables, clock, memory limit).
type BackendFactory func(opts Options) (Backend, error)

// HandleReader loads key groups [a, b) of one state handle of operator opID, in a format
// package state does not read itself, into ld; entries expired at now are skipped.
type HandleReader func(cp *Checkpoint, h StateHandle, opID string, ts *TableSet, ld Loader, a, b int, now int64) error

var (
	registryMu sync.RWMutex
	backends   = map[string]BackendFactory{}
	readers    = map[string]HandleReader{}
)

// RegisterBackend makes a backend available to NewBackend under name. Backend packages
// call it from init (package pebblestate registers PebbleBackend), so a program links in
// only the backends it imports. It panics if name is taken.
func RegisterBackend(name string, f BackendFactory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := backends[name]; dup || name == MemoryBackend {
		panic("state: backend " + name + " registered twice")
	}
	backends[name] = f
}

// RegisterHandleFormat makes Restore, on any backend, read state handles of format with r
// (package pebblestate registers FormatPebble). It panics if format is taken.
func RegisterHandleFormat(format string, r HandleReader) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := readers[format]; dup || format == FormatArrow || format == FormatTimers {
		panic("state: handle format " + format + " registered twice")
	}
	readers[format] = r
}

func handleReader(format string) HandleReader {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return readers[format]
}

// NewBackend creates an empty backend.
func NewBackend(opts Options) (Backend, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	if opts.Backend == MemoryBackend {
		return newMemory(opts), nil
	}
	registryMu.RLock()
	f := backends[opts.Backend]
	registryMu.RUnlock()
	if f != nil {
		return f(opts)
	}
	if opts.Backend == PebbleBackend {
		return nil, rberr.New(rberr.InvalidArgument, "state backend %q is not linked into this program (import %s)", PebbleBackend, pebblePackage)
	}
	return nil, rberr.New(rberr.InvalidArgument, "unknown state backend %q (expected %q or %q)", opts.Backend, MemoryBackend, PebbleBackend)
}

// TableSet is what every backend shares: the options (declarations, owned key-group range,
// clock) and the checks every call makes. Backends embed it.
type TableSet struct {
	opts  Options
	byNam map[string]Table
}

// NewTableSet returns the table set of opts, as given to a BackendFactory.
func NewTableSet(opts Options) TableSet {
	m := make(map[string]Table, len(opts.Tables))
	for i, s := range opts.Tables {
		m[s.Name] = Table(i)
	}
	return TableSet{opts: opts, byNam: m}
}

// Options returns the backend's options (with defaults applied); callers must not modify them.
func (ts *TableSet) Options() *Options { return &ts.opts }

// KeyGroups returns the key groups [start, end) the backend owns.
func (ts *TableSet) KeyGroups() (int, int) { return ts.opts.KeyGroupStart, ts.opts.KeyGroupEnd }

// Table returns the table declared with name.
func (ts *TableSet) Table(name string) (Table, bool) {
	t, ok := ts.byNam[name]
	return t, ok
}

// Spec returns the declaration of table t (which must be valid).
func (ts *TableSet) Spec(t Table) *TableSpec { return &ts.opts.Tables[t] }

// Check validates a call named op: that t is a declared table of kind kind (AnyKind: any),
// kg an owned key group, and every length in lens equal to n, the number of keys. It
// returns the table's declaration.
func (ts *TableSet) Check(op string, t Table, kind Kind, kg int, n int, lens ...int) (*TableSpec, error) {
	if t < 0 || int(t) >= len(ts.opts.Tables) {
		return nil, rberr.New(rberr.InvalidArgument, "state %s: no table %d (%d declared)", op, t, len(ts.opts.Tables))
	}
	spec := &ts.opts.Tables[t]
	if kind != AnyKind && spec.Kind != kind {
		return nil, rberr.New(rberr.InvalidArgument, "state %s on table %q: the table is a %s table, not %s", op, spec.Name, spec.Kind, kind)
	}
	if kg < ts.opts.KeyGroupStart || kg >= ts.opts.KeyGroupEnd {
		return nil, rberr.New(rberr.InvalidArgument, "state %s on table %q: key group %d is not owned by this subtask (it owns [%d, %d))", op, spec.Name, kg, ts.opts.KeyGroupStart, ts.opts.KeyGroupEnd)
	}
	for _, l := range lens {
		if l != n {
			return nil, rberr.New(rberr.InvalidArgument, "state %s on table %q: %d keys but %d values", op, spec.Name, n, l)
		}
	}
	return spec, nil
}

// AnyKind makes Check accept a table of any kind.
const AnyKind Kind = 255

// CheckBackend reports whether a backend of that name can be made (an empty name is the
// memory backend): the error NewBackend would give, without making one.
func CheckBackend(name string) error {
	if name == "" || name == MemoryBackend {
		return nil
	}
	registryMu.RLock()
	f := backends[name]
	registryMu.RUnlock()
	if f != nil {
		return nil
	}
	if name == PebbleBackend {
		return rberr.New(rberr.InvalidArgument, "state backend %q is not linked into this program (import %s)", PebbleBackend, pebblePackage)
	}
	return rberr.New(rberr.InvalidArgument, "unknown state backend %q (expected %q or %q)", name, MemoryBackend, PebbleBackend)
}
