package source

import "time"

// RateWindow is the span a source's rates are measured over: records/s and bytes/s are
// the records and bytes fetched in about the last RateWindow, divided by that time (as
// Flink's MeterView and the Kafka consumer's records-consumed-rate: a recent rate, not an
// average since the start, so that a partition without new records goes to 0).
const RateWindow = 10 * time.Second

// rateStep is how far apart the samples of a meter are at least.
const rateStep = time.Second

// rateSamples is how many samples a meter keeps: rateStep apart at least, they span more
// than RateWindow.
const rateSamples = int(RateWindow/rateStep) + 2

// rateSample is a counter's value at a moment.
type rateSample struct {
	at             time.Time
	records, bytes int64
}

// meter measures the rates of a record and a byte counter over the last RateWindow. It
// keeps the counters' values at the fetches, rateStep apart at least (a fetch within a
// step of the newest sample moves that sample on to it). The rate at a moment is the counters' growth
// since the newest sample that is at least RateWindow old, over the time since it; while
// there is none, since the start (when the counters were 0). Not safe for concurrent use:
// its owner guards it.
type meter struct {
	start   time.Time // when the counters started at 0; zero: not started
	samples [rateSamples]rateSample
	n, head int // samples held; index of the oldest
}

// begin starts the meter at now, unless it has started.
func (m *meter) begin(now time.Time) {
	if m.start.IsZero() {
		m.start = now
	}
}

// add records the counters' values at now.
func (m *meter) add(now time.Time, records, bytes int64) {
	m.begin(now)
	s := rateSample{at: now, records: records, bytes: bytes}
	if m.n > 0 {
		if newest := &m.samples[(m.head+m.n-1)%rateSamples]; now.Sub(newest.at) < rateStep {
			*newest = s
			return
		}
	}
	if m.n == rateSamples {
		m.head = (m.head + 1) % rateSamples
		m.n--
	}
	m.samples[(m.head+m.n)%rateSamples] = s
	m.n++
}

// rates are records/s and bytes/s at now, the counters being records and bytes; 0 before
// the meter started or when no time has passed.
func (m *meter) rates(now time.Time, records, bytes int64) (rps, bps float64) {
	if m.start.IsZero() {
		return 0, 0
	}
	base := rateSample{at: m.start}
	for i := m.n - 1; i >= 0; i-- {
		if s := m.samples[(m.head+i)%rateSamples]; now.Sub(s.at) >= RateWindow {
			base = s
			break
		}
	}
	secs := now.Sub(base.at).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	return float64(records-base.records) / secs, float64(bytes-base.bytes) / secs
}
