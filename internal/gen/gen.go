package gen

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Generator produces rows of a (conceptually infinite) sequence indexed from 0.
type Generator interface {
	Schema() *arrow.Schema
	// Rows builds the rows for sequence indexes [start, end) as one record batch allocated with mem
	// (the caller releases it). For Nexmark kinds, only the events of that kind within [start, end)
	// become rows, so the batch may have fewer than end-start rows (possibly zero).
	Rows(mem memory.Allocator, start, end int64) (arrow.RecordBatch, error)
	// EventTime returns the event time of sequence index i in microseconds since the Unix epoch.
	// Event times are non-decreasing in i.
	EventTime(i int64) int64
}

// defaultBaseTime is 2026-01-01T00:00:00Z in microseconds since the Unix epoch.
const defaultBaseTime int64 = 1_767_225_600_000_000

// clock maps sequence indexes to event times: base + i*1e6/rate microseconds,
// computed exactly in integers.
type clock struct {
	base int64 // event time of index 0, µs
	rate int64 // indexes per second, > 0
}

// at returns the event time of index i (i >= 0) in microseconds. It splits i into
// whole seconds and a remainder so that the product cannot overflow.
func (c clock) at(i int64) int64 {
	q, r := i/c.rate, i%c.rate
	return c.base + q*1_000_000 + r*1_000_000/c.rate
}

func newClock(base, rate, defaultRate int64, rateName string) (clock, error) {
	if rate < 0 {
		return clock{}, rberr.New(rberr.Plan, "%s must not be negative, got %d", rateName, rate)
	}
	if rate == 0 {
		rate = defaultRate
	}
	if base == 0 {
		base = defaultBaseTime
	}
	return clock{base: base, rate: rate}, nil
}

// floorDiv divides rounding toward negative infinity (event times before the
// epoch convert to coarser units consistently).
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func checkRange(start, end int64) error {
	if start < 0 || end < start {
		return rberr.New(rberr.InvalidArgument, "invalid row range [%d, %d): need 0 <= start <= end", start, end)
	}
	return nil
}

// rng is a small fast generator (wyrand). A fresh one is seeded for every event
// (or cell) by hashing the generator's seed with the index (SplitMix64's
// finalizer), so values never depend on what was generated before.
type rng struct{ s uint64 }

const golden = 0x9E3779B97F4A7C15

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// newRand returns the generator for index i of the stream identified by seed.
func newRand(seed uint64, i int64) rng {
	return rng{s: mix64(seed ^ (uint64(i) * golden))}
}

func (r *rng) next() uint64 {
	r.s += 0xA0761D6478BD642F
	hi, lo := bits.Mul64(r.s, r.s^0xE7037ED1A0B428DB)
	return hi ^ lo
}

// bounded returns a value in [0, n) for n > 0 by multiply-shift: the relative bias
// is at most n/2^64, negligible for the small bounds of the Nexmark model.
func (r *rng) bounded(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

func (r *rng) intn(n int) int { return int(r.bounded(uint64(n))) }

func (r *rng) int63n(n int64) int64 { return int64(r.bounded(uint64(n))) }

// float64 returns a value uniform in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }
