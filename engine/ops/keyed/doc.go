// Package keyed owns the in-memory per-key structures that stateful operators share: the
// open-addressing hash table that maps key columns to dense group ids (Grouper), and the
// store of batches that operators hold on to, with rows gathered back by reference
// (RowStore). Durable keyed state lives in the top-level state package; state.go and
// rows.go convert operators' state to and from its tables at checkpoints (Arrow batches
// per key group, in the key group the hash exchange routes each key to).
package keyed
