// Package opstest runs stateful operators three ways for their tests, as Arroyo's smoke
// tests do: straight through; with checkpoints every few batches, each restored into a
// fresh operator instance; and restored at other parallelisms, each row routed to the
// instance owning its key group. Tests compare each run's output rows (a multiset) with a
// plain-Go reference.
//
// Checkpoints go through the real state machinery: SaveState into a fresh backend,
// Backend.Snapshot into a state.Storage writer, Commit, OpenCheckpoint, Backend.Restore
// into a backend over the new subtask's key groups, LoadState. Both the memory and the
// Pebble backend are used (this package imports state/pebblestate; only tests import
// this package, so the engine does not link Pebble in).
package opstest
