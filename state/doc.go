// Package state owns keyed state: key groups, checkpoint storage and manifests, keyed state
// tables (the Backend interface and the in-memory backend), state TTL, and timers.
//
// The Pebble backend is in package state/pebblestate, which registers itself with
// NewBackend and Restore when imported: package state does not import Pebble, so programs
// that use only key groups (the engine) or the memory backend do not link it in.
//
// A key belongs to key group hash(key) mod maxParallelism; each parallel subtask owns a
// contiguous range of key groups. Because state is addressed by key group, not by
// subtask, a snapshot taken at one parallelism can be restored at another.
//
// One file per concept:
//
//   - keygroup.go: key groups and the ranges subtasks own.
//   - checkpoint.go: Storage (a directory of chk-<id> checkpoints, Latest, retention),
//     Writer (files written to a temporary name, fsynced, renamed; _metadata last) and
//     OpenCheckpoint (verifies every file's size and checksum before anything is used).
//   - manifest.go: the _metadata format (files, source positions, operator state handles,
//     job options), its encoder and strict decoder.
//   - table.go: table declarations (value / list / map, encodings, TTL) and clocks.
//   - codec.go: the byte encoding of Arrow values used as keys and values.
//   - backend.go: the batch-oriented Backend interface, its options, the registry of
//     backends and snapshot formats other packages provide, and TableSet, which every
//     backend embeds.
//   - memory.go: the in-memory backend.
//   - snapshotfile.go: portable snapshots as Arrow IPC files (WriteArrowSnapshot), and
//     restore by key group from any registered format (RestoreInto).
//   - timers.go: event- and processing-time timers per key group.
//   - spill.go: the SpillStore interface (where operators move rows out of memory, for
//     state larger than memory) and the registry of spill stores by state backend.
//
// The engine does not use this package's state tables yet; docs/design-state.md says what
// it must call and when.
package state
