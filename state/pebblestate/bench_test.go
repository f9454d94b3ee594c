package pebblestate

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/riverbed-engine/riverbed/state"
	"github.com/riverbed-engine/riverbed/state/internal/statetest"
)

// BenchmarkBackend measures batched puts and gets of one key group (batches of 1024 keys,
// 100 000 distinct keys, 16-byte values) on both backends.
func BenchmarkBackend(b *testing.B) {
	specs := []state.TableSpec{{Name: "v", Kind: state.Value}}
	const batch, distinct = 1024, 100_000
	keys := make([][]byte, distinct)
	for i := range keys {
		keys[i] = statetest.I64Key(i)
	}
	val := make([][]byte, batch)
	for i := range val {
		val[i] = []byte("0123456789abcdef")
	}
	for _, kind := range []string{state.MemoryBackend, state.PebbleBackend} {
		be, err := state.NewBackend(state.Options{Backend: kind, Tables: specs, MaxParallelism: 1, Dir: filepath.Join(b.TempDir(), "db")})
		if err != nil {
			b.Fatal(err)
		}
		// Every key exists before measuring, so gets are hits and puts overwrite.
		for off := 0; off+batch <= distinct; off += batch {
			if err := be.Put(0, 0, keys[off:off+batch], val); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("%s/put", kind), func(b *testing.B) {
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				off := (i * batch) % (distinct - batch)
				if err := be.Put(0, 0, keys[off:off+batch], val); err != nil {
					b.Fatal(err)
				}
			}
			reportRates(b, batch, cpu0)
		})
		b.Run(fmt.Sprintf("%s/get", kind), func(b *testing.B) {
			var dst [][]byte
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				off := (i * batch) % (distinct - batch)
				if dst, err = be.Get(0, 0, keys[off:off+batch], dst); err != nil {
					b.Fatal(err)
				}
			}
			reportRates(b, batch, cpu0)
		})
		be.Close()
	}
}

// reportRates reports keys per wall-clock second and per CPU second of the whole process
// (background goroutines included); the latter is steadier on a shared machine.
func reportRates(b *testing.B, batch int, cpu0 float64) {
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N*batch)/cpu, "keys/cpu-s")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
