// Package state owns keyed state: key groups, and (as streaming grows) the state backends
// (in memory, Pebble), timers, and checkpoint storage and manifests.
//
// A key belongs to key group hash(key) mod maxParallelism; each parallel subtask owns a
// contiguous range of key groups. Because state is addressed by key group, not by
// subtask, a snapshot taken at one parallelism can be restored at another.
package state
