package state

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkBackend measures batched puts and gets of one key group (batches of 1024 keys,
// 100 000 distinct keys, 16-byte values) on both backends.
func BenchmarkBackend(b *testing.B) {
	specs := []TableSpec{{Name: "v", Kind: Value}}
	const batch, distinct = 1024, 100_000
	keys := make([][]byte, distinct)
	for i := range keys {
		keys[i] = i64key(i)
	}
	val := make([][]byte, batch)
	for i := range val {
		val[i] = []byte("0123456789abcdef")
	}
	for _, kind := range []string{MemoryBackend, PebbleBackend} {
		be, err := NewBackend(Options{Backend: kind, Tables: specs, MaxParallelism: 1, Dir: filepath.Join(b.TempDir(), "db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/put", kind), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				off := (i * batch) % (distinct - batch)
				if err := be.Put(0, 0, keys[off:off+batch], val); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
		})
		b.Run(fmt.Sprintf("%s/get", kind), func(b *testing.B) {
			var dst [][]byte
			for i := 0; i < b.N; i++ {
				off := (i * batch) % (distinct - batch)
				if dst, err = be.Get(0, 0, keys[off:off+batch], dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
		})
		be.Close()
	}
}
