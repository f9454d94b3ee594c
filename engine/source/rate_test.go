package source

import (
	"testing"
	"time"
)

func TestMeterRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var m meter
	if r, b := m.rates(at(1), 0, 0); r != 0 || b != 0 {
		t.Fatalf("not started: %v %v", r, b)
	}
	m.begin(t0)
	// 100 records of 10 bytes a second, fetched every 0.25 s, for 30 s.
	var recs, bytes int64
	for s := 0.25; s <= 30; s += 0.25 {
		recs, bytes = recs+25, bytes+250
		m.add(at(s), recs, bytes)
		r, b := m.rates(at(s), recs, bytes)
		if s < RateWindow.Seconds() {
			// since the start: exactly the counters over the time since it
			if want := float64(recs) / s; r != want || b != 10*want {
				t.Fatalf("at %vs: %v %v, want %v", s, r, b, want)
			}
		} else if r < 95 || r > 105 || b != 10*r {
			t.Fatalf("at %vs: %v records/s, %v bytes/s; want about 100 and 1000", s, r, b)
		}
	}
	if m.n > rateSamples {
		t.Fatalf("%d samples", m.n)
	}
	// Nothing new: the rate falls to 0 once the window has passed the last fetch.
	if r, _ := m.rates(at(30+RateWindow.Seconds()+1.5), recs, bytes); r != 0 {
		t.Fatalf("idle: %v records/s", r)
	}
	if r, _ := m.rates(at(35), recs, bytes); r <= 0 || r >= 100 {
		t.Fatalf("half idle: %v records/s", r)
	}
}
