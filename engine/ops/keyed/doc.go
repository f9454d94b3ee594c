// Package keyed owns the in-memory per-key structures that stateful operators share: the
// open-addressing hash table that maps key columns to dense group ids (Grouper), and the
// store of batches that operators hold on to, with rows gathered back by reference
// (RowStore). Durable keyed state lives in the top-level state package; state.go and
// rows.go convert operators' state to and from its tables at checkpoints (Arrow batches
// per key group, in the key group the hash exchange routes each key to). spill.go lets
// the row stores of an operator subtask keep at most a memory cap of rows in memory (less
// what the operator's index of them and the spill store's buffers take) and spill the
// rest to a state.SpillStore (with state_backend="pebble"): state larger than memory.
package keyed
