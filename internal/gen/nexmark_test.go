package gen

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

var nexmarkKindNames = []string{"person", "auction", "bid"}

func newNexmark(t testing.TB, cfg NexmarkConfig, kind string) Generator {
	t.Helper()
	g, err := NewNexmark(cfg, kind)
	if err != nil {
		t.Fatalf("NewNexmark(%q): %v", kind, err)
	}
	return g
}

func rows(t testing.TB, g Generator, mem memory.Allocator, start, end int64) arrow.RecordBatch {
	t.Helper()
	rec, err := g.Rows(mem, start, end)
	if err != nil {
		t.Fatalf("Rows(%d, %d): %v", start, end, err)
	}
	if !rec.Schema().Equal(g.Schema()) {
		t.Fatalf("Rows schema %v, want %v", rec.Schema(), g.Schema())
	}
	return rec
}

func int64s(rec arrow.RecordBatch, name string) []int64 {
	idx := rec.Schema().FieldIndices(name)[0]
	switch a := rec.Column(idx).(type) {
	case *array.Int64:
		return a.Int64Values()
	case *array.Timestamp:
		out := make([]int64, a.Len())
		for i, v := range a.TimestampValues() {
			out[i] = int64(v)
		}
		return out
	}
	panic("not an int64 column: " + name)
}

func strs(rec arrow.RecordBatch, name string) []string {
	a := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.String)
	out := make([]string, a.Len())
	for i := range out {
		out[i] = a.Value(i)
	}
	return out
}

// requireSplitEqual checks that Rows over [0, n) equals the concatenation of
// Rows over the given split points.
func requireSplitEqual(t *testing.T, g Generator, mem memory.Allocator, n int64, cuts ...int64) {
	t.Helper()
	whole := rows(t, g, mem, 0, n)
	defer whole.Release()
	bounds := append(append([]int64{0}, cuts...), n)
	var parts []arrow.RecordBatch
	total := int64(0)
	for i := 0; i+1 < len(bounds); i++ {
		p := rows(t, g, mem, bounds[i], bounds[i+1])
		defer p.Release()
		parts = append(parts, p)
		total += p.NumRows()
	}
	if total != whole.NumRows() {
		t.Fatalf("split rows %d, whole %d", total, whole.NumRows())
	}
	for c := 0; c < int(whole.NumCols()); c++ {
		cols := make([]arrow.Array, len(parts))
		for i, p := range parts {
			cols[i] = p.Column(c)
		}
		cat, err := array.Concatenate(cols, mem)
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(cat, whole.Column(c)) {
			t.Errorf("column %s differs between whole and split generation", whole.Schema().Field(c).Name)
		}
		cat.Release()
	}
}

func TestNexmarkDeterministicSplits(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, kind := range nexmarkKindNames {
		t.Run(kind, func(t *testing.T) {
			g := newNexmark(t, NexmarkConfig{Seed: 42}, kind)
			requireSplitEqual(t, g, mem, 10000, 3333, 7001)
			// A second generator with the same configuration (e.g. after a restore) agrees.
			g2 := newNexmark(t, NexmarkConfig{Seed: 42}, kind)
			requireSplitEqual(t, g2, mem, 10000, 1, 2, 49, 50, 51, 9999)
			a := rows(t, g, mem, 5000, 6000)
			b := rows(t, g2, mem, 5000, 6000)
			if !array.RecordEqual(a, b) {
				t.Errorf("generators with equal configuration disagree")
			}
			c := rows(t, newNexmark(t, NexmarkConfig{Seed: 43}, kind), mem, 5000, 6000)
			if array.RecordEqual(a, c) {
				t.Errorf("generators with different seeds agree")
			}
			a.Release()
			b.Release()
			c.Release()
		})
	}
}

func TestNexmarkEmptyAndSmallRanges(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cases := []struct {
		kind       string
		start, end int64
		want       int64
	}{
		{"person", 0, 0, 0}, {"person", 0, 1, 1}, {"person", 1, 50, 0}, {"person", 1, 51, 1},
		{"auction", 0, 1, 0}, {"auction", 0, 4, 3}, {"auction", 2, 3, 1}, {"auction", 4, 51, 0}, {"auction", 4, 52, 1},
		{"bid", 0, 4, 0}, {"bid", 0, 5, 1}, {"bid", 49, 50, 1}, {"bid", 50, 54, 0}, {"bid", 0, 100, 92},
	}
	for _, c := range cases {
		g := newNexmark(t, NexmarkConfig{}, c.kind)
		rec := rows(t, g, mem, c.start, c.end)
		if rec.NumRows() != c.want {
			t.Errorf("%s Rows(%d, %d): %d rows, want %d", c.kind, c.start, c.end, rec.NumRows(), c.want)
		}
		rec.Release()
	}
}

// TestNexmarkProportions checks, over 1M events, which event ids each kind
// occupies. At 1000 events per second each event has its own millisecond, so
// date_time identifies the event id.
func TestNexmarkProportions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := NexmarkConfig{Seed: 7, EventsPerSecond: 1000}
	const total, chunk = 1_000_000, 100_000
	baseMs := defaultBaseTime / 1000
	for _, kind := range nexmarkKindNames {
		g := newNexmark(t, cfg, kind)
		var count, nextID int64
		for start := int64(0); start < total; start += chunk {
			rec := rows(t, g, mem, start, start+chunk)
			idCol := "id"
			if kind == "bid" {
				idCol = "price" // bids have no id of their own
			}
			ids, times := int64s(rec, idCol), int64s(rec, "date_time")
			for k, ms := range times {
				eid := ms - baseMs
				off := eid % 50
				switch kind {
				case "person":
					if off != 0 {
						t.Fatalf("person at event %d (offset %d)", eid, off)
					}
				case "auction":
					if off < 1 || off > 3 {
						t.Fatalf("auction at event %d (offset %d)", eid, off)
					}
				case "bid":
					if off < 4 {
						t.Fatalf("bid at event %d (offset %d)", eid, off)
					}
				}
				if kind != "bid" {
					if ids[k] != 1000+nextID {
						t.Fatalf("%s #%d has id %d, want %d", kind, nextID, ids[k], 1000+nextID)
					}
					nextID++
				}
			}
			count += rec.NumRows()
			rec.Release()
		}
		want := map[string]int64{"person": total / 50, "auction": total * 3 / 50, "bid": total * 46 / 50}[kind]
		if count != want {
			t.Errorf("%s: %d rows over %d events, want %d", kind, count, total, want)
		}
	}
}

type idEvent struct{ eid, id int64 }

// idsByEvent returns (event id, value of col) for every row of kind over [0, n)
// at 1000 events per second.
func idsByEvent(t *testing.T, mem memory.Allocator, cfg NexmarkConfig, kind, col string, n int64) []idEvent {
	rec := rows(t, newNexmark(t, cfg, kind), mem, 0, n)
	defer rec.Release()
	vals, times := int64s(rec, col), int64s(rec, "date_time")
	out := make([]idEvent, len(vals))
	for i := range vals {
		out[i] = idEvent{eid: times[i] - cfg.BaseTime/1000, id: vals[i]}
	}
	return out
}

// maxBefore returns, for each event in evs, the highest id of created generated
// at an earlier event (999 if none).
func maxBefore(created, evs []idEvent) []int64 {
	out := make([]int64, len(evs))
	j, best := 0, int64(999)
	for i, e := range evs {
		for j < len(created) && created[j].eid < e.eid {
			best = max(best, created[j].id)
			j++
		}
		out[i] = best
	}
	return out
}

func TestNexmarkReferences(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := NexmarkConfig{Seed: 3, EventsPerSecond: 1000, BaseTime: 1_000_000_000}
	const n = 300_000
	people := idsByEvent(t, mem, cfg, "person", "id", n)
	auctions := idsByEvent(t, mem, cfg, "auction", "id", n)

	bidAuctions := idsByEvent(t, mem, cfg, "bid", "auction", n)
	maxA := maxBefore(auctions, bidAuctions)
	for i, b := range bidAuctions {
		if b.id < 1000 || b.id > maxA[i]+auctionIDLead || b.id < maxA[i]-numInFlightAuctions {
			t.Fatalf("bid at event %d: auction %d, highest auction so far %d", b.eid, b.id, maxA[i])
		}
	}
	bidders := idsByEvent(t, mem, cfg, "bid", "bidder", n)
	maxP := maxBefore(people, bidders)
	for i, b := range bidders {
		if b.id < 1000 || b.id > maxP[i]+personIDLead {
			t.Fatalf("bid at event %d: bidder %d, highest person so far %d", b.eid, b.id, maxP[i])
		}
	}
	sellers := idsByEvent(t, mem, cfg, "auction", "seller", n)
	maxP = maxBefore(people, sellers)
	for i, s := range sellers {
		if s.id < 1000 || s.id > maxP[i]+personIDLead {
			t.Fatalf("auction at event %d: seller %d, highest person so far %d", s.eid, s.id, maxP[i])
		}
	}
}

func TestNexmarkValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := NexmarkConfig{Seed: 11}
	const n = 200_000

	bids := rows(t, newNexmark(t, cfg, "bid"), mem, 0, n)
	defer bids.Release()
	for _, p := range int64s(bids, "price") {
		if p < 100 || p > 100_000_000 {
			t.Fatalf("bid price %d out of [100, 1e8]", p)
		}
	}
	hot := map[string]bool{"Google": true, "Facebook": true, "Baidu": true, "Apple": true}
	hotCount := 0
	urls := strs(bids, "url")
	for i, ch := range strs(bids, "channel") {
		if hot[ch] {
			hotCount++
		} else if !strings.HasPrefix(ch, "channel-") {
			t.Fatalf("unexpected channel %q", ch)
		}
		if !strings.HasPrefix(urls[i], "https://www.nexmark.com/") {
			t.Fatalf("unexpected url %q", urls[i])
		}
	}
	if share := float64(hotCount) / float64(bids.NumRows()); share < 0.45 || share > 0.55 {
		t.Errorf("hot channel share %.3f, want about 1/2", share)
	}
	extraBytes := 0
	for _, e := range strs(bids, "extra") {
		extraBytes += len(e)
	}
	if avg := float64(extraBytes) / float64(bids.NumRows()); avg < 60 || avg > 75 {
		t.Errorf("average bid extra %.1f bytes, want about 68", avg)
	}

	auctions := rows(t, newNexmark(t, cfg, "auction"), mem, 0, n)
	defer auctions.Release()
	initial, reserve := int64s(auctions, "initial_bid"), int64s(auctions, "reserve")
	dt, expires := int64s(auctions, "date_time"), int64s(auctions, "expires")
	for i, c := range int64s(auctions, "category") {
		if c < 10 || c >= 15 {
			t.Fatalf("category %d out of [10, 15)", c)
		}
		if initial[i] < 100 || initial[i] > 100_000_000 || reserve[i] < initial[i]+100 {
			t.Fatalf("initial_bid %d, reserve %d", initial[i], reserve[i])
		}
		if expires[i] <= dt[i] {
			t.Fatalf("auction expires %d at or before its date_time %d", expires[i], dt[i])
		}
	}
	for _, s := range strs(auctions, "item_name") {
		if len(s) > 19 || strings.TrimSpace(s) != s {
			t.Fatalf("item_name %q", s)
		}
	}

	people := rows(t, newNexmark(t, cfg, "person"), mem, 0, n)
	defer people.Release()
	states := map[string]bool{"AZ": true, "CA": true, "ID": true, "OR": true, "WA": true, "WY": true}
	for i, cc := range strs(people, "credit_card") {
		if len(cc) != 19 || cc[4] != ' ' || cc[9] != ' ' || cc[14] != ' ' || strings.Trim(cc, "0123456789 ") != "" {
			t.Fatalf("credit card %q", cc)
		}
		if !states[strs(people, "state")[i]] {
			t.Fatalf("state %q", strs(people, "state")[i])
		}
	}
	for _, e := range strs(people, "email_address") {
		if !strings.HasSuffix(e, ".com") || strings.Count(e, "@") != 1 {
			t.Fatalf("email %q", e)
		}
	}
	for _, name := range strs(people, "name") {
		if strings.Count(name, " ") != 1 {
			t.Fatalf("name %q", name)
		}
	}
}

func TestNexmarkHotItems(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := rows(t, newNexmark(t, NexmarkConfig{Seed: 5}, "bid"), mem, 0, 100_000)
	defer rec.Release()
	for _, col := range []string{"auction", "bidder"} {
		counts := map[int64]int{}
		top := 0
		for _, v := range int64s(rec, col) {
			counts[v]++
			top = max(top, counts[v])
		}
		share := float64(top) / float64(rec.NumRows())
		mean := 1 / float64(len(counts))
		t.Logf("%s: %d distinct, top share %.4f, mean share %.5f", col, len(counts), share, mean)
		// Each hot auction takes half the bids for ~100 auctions' worth of events,
		// each hot bidder three quarters for ~100 people's worth.
		if share < 0.005 || share < 20*mean {
			t.Errorf("%s: most frequent value has share %.4f (mean %.5f); want a hot value", col, share, mean)
		}
	}
}

func TestNexmarkEventTimes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	g := newNexmark(t, NexmarkConfig{}, "bid")
	for i := int64(0); i < 1000; i++ {
		if got := g.EventTime(i); got != base+10*i {
			t.Fatalf("default EventTime(%d) = %d, want %d", i, got, base+10*i)
		}
	}
	g = newNexmark(t, NexmarkConfig{EventsPerSecond: 3, BaseTime: 5}, "person")
	for i, want := range []int64{5, 333_338, 666_671, 1_000_005, 1_333_338} {
		if got := g.EventTime(int64(i)); got != want {
			t.Errorf("EventTime(%d) at 3/s = %d, want %d", i, got, want)
		}
	}
	// Non-decreasing across odd rates and large indexes, without overflow.
	for _, eps := range []int64{1, 7, 1000, 999_983, 3_000_000} {
		g := newNexmark(t, NexmarkConfig{EventsPerSecond: eps}, "auction")
		prev := g.EventTime(0)
		for _, i := range []int64{1, 2, 1e6, 1e9, 1e12, 1e12 + 1} {
			cur := g.EventTime(i)
			if cur < prev {
				t.Fatalf("eps %d: EventTime(%d) = %d < %d", eps, i, cur, prev)
			}
			if want := base + i/eps*1e6; cur < want || cur > want+1e6 {
				t.Fatalf("eps %d: EventTime(%d) = %d, want about %d", eps, i, cur, want)
			}
			prev = cur
		}
	}
	// date_time columns are the event times in milliseconds, non-decreasing.
	for _, kind := range nexmarkKindNames {
		g := newNexmark(t, NexmarkConfig{EventsPerSecond: 2000}, kind)
		rec := rows(t, g, mem, 1000, 20000)
		times := int64s(rec, "date_time")
		for i := 1; i < len(times); i++ {
			if times[i] < times[i-1] {
				t.Fatalf("%s date_time decreases at row %d", kind, i)
			}
		}
		lo, hi := kindOffsets(kind)
		if first := g.EventTime(firstEvent(1000, lo, hi)) / 1000; times[0] != first {
			t.Errorf("%s first date_time %d, want %d", kind, times[0], first)
		}
		rec.Release()
	}
}

func kindOffsets(kind string) (int64, int64) {
	switch kind {
	case "person":
		return kindPerson.offsets()
	case "auction":
		return kindAuction.offsets()
	}
	return kindBid.offsets()
}

func TestNexmarkErrors(t *testing.T) {
	_, err := NewNexmark(NexmarkConfig{}, "bids")
	if err == nil || rberr.KindOf(err) != rberr.Plan {
		t.Fatalf("unknown kind: err %v, want a plan error", err)
	}
	for _, want := range []string{`"bids"`, "person", "auction", "bid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := NewNexmark(NexmarkConfig{EventsPerSecond: -1}, "bid"); rberr.KindOf(err) != rberr.Plan {
		t.Errorf("negative rate: err %v, want a plan error", err)
	}
	g := newNexmark(t, NexmarkConfig{}, "bid")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, r := range [][2]int64{{5, 3}, {-1, 10}} {
		_, err := g.Rows(mem, r[0], r[1])
		var e *rberr.Error
		if !errors.As(err, &e) || e.Kind != rberr.InvalidArgument {
			t.Errorf("Rows(%d, %d): err %v, want an invalid argument error", r[0], r[1], err)
		}
	}
}

func BenchmarkNexmarkBids(b *testing.B) {
	benchNexmark(b, "bid")
}

func BenchmarkNexmarkAuctions(b *testing.B) {
	benchNexmark(b, "auction")
}

func BenchmarkNexmarkPeople(b *testing.B) {
	benchNexmark(b, "person")
}

func benchNexmark(b *testing.B, kind string) {
	const events = 100_000
	g := newNexmark(b, NexmarkConfig{Seed: 1}, kind)
	mem := memory.NewGoAllocator()
	var rowCount int64
	start := int64(0)
	b.ResetTimer()
	for b.Loop() {
		rec, err := g.Rows(mem, start, start+events)
		if err != nil {
			b.Fatal(err)
		}
		rowCount += rec.NumRows()
		rec.Release()
		start += events
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(start)/secs, "events/s")
	b.ReportMetric(float64(rowCount)/secs, kind+"s/s")
}

// TestConcurrentRows generates disjoint ranges of one generator from several
// goroutines and checks the result matches sequential generation.
func TestConcurrentRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	gens := []Generator{
		newNexmark(t, NexmarkConfig{Seed: 8}, "bid"),
		newNexmark(t, NexmarkConfig{Seed: 8}, "auction"),
		newDatagen(t, allTypesSchema, DatagenConfig{Seed: 8, Fields: map[string]FieldSpec{"s": {Nulls: 0.5}}}),
	}
	for _, g := range gens {
		const parts, size = 8, 2500
		got := make([]arrow.RecordBatch, parts)
		errs := make([]error, parts)
		done := make(chan struct{})
		for p := range parts {
			go func() {
				defer func() { done <- struct{}{} }()
				got[p], errs[p] = g.Rows(mem, int64(p*size), int64((p+1)*size))
			}()
		}
		for range parts {
			<-done
		}
		for p := range parts {
			if errs[p] != nil {
				t.Fatal(errs[p])
			}
			want := rows(t, g, mem, int64(p*size), int64((p+1)*size))
			if !array.RecordEqual(got[p], want) {
				t.Errorf("part %d differs when generated concurrently", p)
			}
			want.Release()
			got[p].Release()
		}
	}
}
