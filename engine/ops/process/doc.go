// Package process owns keyed process functions (Flink's KeyedProcessFunction): a host
// (Python) function called once per batch with the elements of several keys, their
// per-key state and their due timers, which returns output rows, side-output rows, state
// updates and timer changes (process.go, and the Arrow layout of a call in wire.go). The
// semantics live here: elements wait for the watermark and are handed over per key in
// event-time order, event-time timers fire when the watermark passes them and
// processing-time timers when the wall clock does, state expires after its TTL, and
// state, timers and waiting elements are checkpointed by key group (state.go).
package process
