package state

// DefaultMaxParallelism is the number of key groups when a job does not set one.
const DefaultMaxParallelism = 128

// KeyGroup returns the key group of a key hash. The hash must be stable across processes
// and versions (snapshots depend on it), so callers use fixed hash functions.
func KeyGroup(hash uint64, maxParallelism int) int {
	return int(mix(hash) % uint64(maxParallelism))
}

// Subtask returns the subtask that owns a key group: subtasks own contiguous ranges of
// key groups, as in Flink.
func Subtask(keyGroup, maxParallelism, parallelism int) int {
	return keyGroup * parallelism / maxParallelism
}

// Range returns the key groups [start, end) that a subtask owns.
func Range(subtask, maxParallelism, parallelism int) (start, end int) {
	start = (subtask*maxParallelism + parallelism - 1) / parallelism
	end = ((subtask+1)*maxParallelism + parallelism - 1) / parallelism
	return start, end
}

// mix spreads the bits of a hash so that its low bits are well distributed.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}
