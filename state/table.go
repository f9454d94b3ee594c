package state

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// MaxKeyGroups is the largest supported max parallelism (key groups are stored in 16 bits).
const MaxKeyGroups = 1 << 15

// Kind is the shape of a keyed state table.
type Kind uint8

const (
	// Value holds one value per key.
	Value Kind = iota
	// List holds an ordered list of values per key (appends are cheap).
	List
	// Map holds a map from user key to value per key.
	Map
)

func (k Kind) String() string {
	switch k {
	case Value:
		return "value"
	case List:
		return "list"
	case Map:
		return "map"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Encoding says how the bytes of a key or value are to be read. A nil Type is opaque
// bytes. An Arrow type means the bytes are that type's encoding by EncodeValue (fixed-width
// little-endian for numbers, raw UTF-8 for strings), so snapshots store it as a typed Arrow
// column readable by any Arrow tool.
type Encoding struct {
	Type arrow.DataType
}

// Bytes is the opaque encoding.
var Bytes = Encoding{}

func (e Encoding) String() string {
	if e.Type == nil {
		return "bytes"
	}
	return e.Type.String()
}

func (e Encoding) equal(o Encoding) bool {
	if e.Type == nil || o.Type == nil {
		return e.Type == nil && o.Type == nil
	}
	return arrow.TypeEqual(e.Type, o.Type)
}

// TTLUpdate says when an entry's time to live restarts, as Flink's StateTtlConfig.UpdateType.
type TTLUpdate uint8

const (
	// OnCreateAndWrite restarts the TTL when an entry is written.
	OnCreateAndWrite TTLUpdate = iota
	// OnReadAndWrite also restarts it when the entry is read.
	OnReadAndWrite
)

// TTL configures state expiry, as Flink's StateTtlConfig with NeverReturnExpired: an entry
// not written (or, with OnReadAndWrite, read) for TTL is never returned again, and is
// removed incrementally — when accessed and when a snapshot is taken or restored. Expiry
// uses processing time from the backend's Clock. A zero TTL disables expiry.
type TTL struct {
	TTL    time.Duration
	Update TTLUpdate
}

// TableSpec declares a keyed state table. Operators declare all their tables up front.
type TableSpec struct {
	Name string
	Kind Kind
	// Key is the encoding of the (partition) key.
	Key Encoding
	// UserKey is the encoding of a Map table's user key (ignored for other kinds).
	UserKey Encoding
	// Value is the encoding of values (list elements for List tables).
	Value Encoding
	TTL   TTL
	// Rows marks a table whose values are Arrow IPC streams of rows (an operator's rows or
	// accumulators batched per key group): snapshot files say so in their schema metadata,
	// and ReadSnapshotTable decodes them into the rows' own columns.
	Rows bool
}

// Clock gives processing time in milliseconds since the Unix epoch. Tests inject a
// manual clock to make TTL deterministic.
type Clock interface {
	NowMillis() int64
}

// SystemClock is the wall clock.
type SystemClock struct{}

// NowMillis returns the current Unix time in milliseconds.
func (SystemClock) NowMillis() int64 { return time.Now().UnixMilli() }

// ManualClock is a Clock set by hand (for tests). It is not safe for concurrent use.
type ManualClock struct{ Ms int64 }

// NowMillis returns the clock's time.
func (c *ManualClock) NowMillis() int64 { return c.Ms }

// Table identifies a declared table: its index in Options.Tables.
type Table int

func validateTables(specs []TableSpec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" {
			return rberr.New(rberr.InvalidArgument, "state table with an empty name")
		}
		if seen[s.Name] {
			return rberr.New(rberr.InvalidArgument, "state table %q declared twice", s.Name)
		}
		seen[s.Name] = true
		if s.Kind > Map {
			return rberr.New(rberr.InvalidArgument, "state table %q: unknown kind %d", s.Name, s.Kind)
		}
		if s.TTL.TTL < 0 {
			return rberr.New(rberr.InvalidArgument, "state table %q: negative TTL %v", s.Name, s.TTL.TTL)
		}
		for _, e := range []Encoding{s.Key, s.UserKey, s.Value} {
			if e.Type != nil && !encodable(e.Type) {
				return rberr.New(rberr.InvalidArgument, "state table %q: Arrow type %s is not supported as a state encoding; use opaque bytes", s.Name, e.Type)
			}
		}
	}
	if len(specs) > 1<<16 {
		return rberr.New(rberr.InvalidArgument, "too many state tables (%d)", len(specs))
	}
	return nil
}

// Expiry returns the expiry time of an entry written at now (0: never expires).
func (s *TableSpec) Expiry(now int64) int64 {
	if s.TTL.TTL <= 0 {
		return 0
	}
	return now + s.TTL.TTL.Milliseconds()
}

// Expired reports whether an entry with expiry exp is expired at now.
func Expired(exp, now int64) bool { return exp != 0 && exp <= now }
