// Package pebblestate is the Pebble backend of package state: keyed state tables in one
// Pebble (v2) database per operator subtask, for state larger than memory, with incremental
// checkpoints (Pebble's own checkpoints, whose hard-linked SSTs consecutive checkpoints
// share) and portable Arrow savepoints.
//
// Import it for its side effect: its init registers state.PebbleBackend with
// state.NewBackend, the reader of state.FormatPebble handles with every backend's
// Restore (so a memory backend restores a Pebble checkpoint too), and the Pebble spill
// store with state.RegisterSpillStore. It lives apart from
// package state so that programs which do not import it, such as the engine today, do not
// link Pebble in.
//
//   - pebble.go: the backend (key layout, TTL records, list merge), its snapshots and the
//     reader of Pebble state handles.
//   - spill.go: the spill store of state.PebbleBackend (registered with
//     state.RegisterSpillStore): a Pebble database per operator subtask holding the rows
//     it moved out of memory, which fails rather than stalls on a full disk.
//
// docs/design-state.md describes the key layout, memory cap and checkpoint format.
package pebblestate
