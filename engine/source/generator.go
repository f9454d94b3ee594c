package source

import (
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/gen"
)

// GenSource runs a generator. The sequence is cut into blocks of Block events (a split
// each); subtask i of p generates blocks i, i+p, i+2p, ... so every run (and every
// replay) produces the same rows in the same blocks. A position is an event index. With
// a Rate, each subtask paces itself so that the whole source produces Rate rows (or
// events) per second of wall-clock time; a paced wait ends at once on stop or cancel.
type GenSource struct {
	Gen   gen.Generator
	Count int64 // -1: unbounded
	Rate  float64
	Block int64
	// Clk makes a subtask's clock (nil without event time).
	Clk func() *Clock
	// Safe, in batch mode when the event-time column is the generator's clock, gives the
	// watermark that the event time of index i allows (no row from i on is at or below it).
	Safe func(i int64) int64
}

func (s *GenSource) Replayable() bool      { return true }
func (s *GenSource) AnnouncesSplits() bool { return false }

func (s *GenSource) Clock(int) *Clock {
	if s.Clk == nil {
		return nil
	}
	return s.Clk()
}

// Splits enumerates subtask's blocks from the one holding event from.Row on.
func (s *GenSource) Splits(subtask, parallel int, from Position) Enumerator {
	first := from.Row / s.Block
	b := first - first%int64(parallel) + int64(subtask)
	if b < first {
		b += int64(parallel)
	}
	return &genSplits{s: s, next: b, parallel: int64(parallel), from: from.Row, start: time.Now(), origin: from.Row}
}

type genSplits struct {
	s        *GenSource
	next     int64 // next block
	parallel int64
	from     int64 // first event to generate
	start    time.Time
	origin   int64 // event index due at start
}

func (e *genSplits) Next(rc *ReadCtx) (Split, bool, error) {
	s := e.s
	b := e.next
	start, end := b*s.Block, (b+1)*s.Block
	if s.Count >= 0 {
		if start >= s.Count {
			return Split{}, false, nil
		}
		end = min(end, s.Count)
	}
	e.next += e.parallel
	sp := Split{Index: b, From: Position{Split: b, Row: max(start, e.from)}, Counted: true, File: -1}
	if next := end + (e.parallel-1)*s.Block; s.Safe != nil && (s.Count < 0 || next < s.Count) {
		// This subtask's next row is at index next (its next block).
		sp.Safe, sp.HasSafe = s.Safe(next), true
	}
	if s.Rate > 0 {
		due := e.start.Add(time.Duration(float64(sp.From.Row-e.origin) / s.Rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-rc.Stopped:
				return Split{}, false, ErrStopped
			case <-rc.Ctx.Done():
				return Split{}, false, rc.Ctx.Err()
			}
		}
	}
	return sp, true, nil
}

func (e *genSplits) Close() {}

func (s *GenSource) Open(_ *ReadCtx, sp Split) (SplitReader, error) {
	end := (sp.Index + 1) * s.Block
	if s.Count >= 0 {
		end = min(end, s.Count)
	}
	return &genReader{s: s, pos: sp.From, end: end}, nil
}

// genReader generates one block (from its position) as one batch.
type genReader struct {
	s   *GenSource
	pos Position
	end int64
}

func (r *genReader) Next(rc *ReadCtx) (arrow.RecordBatch, int64, error) {
	if r.pos.Row >= r.end {
		return nil, 0, io.EOF
	}
	rec, err := r.s.Gen.Rows(rc.Mem, r.pos.Row, r.end)
	if err != nil {
		return nil, 0, err
	}
	chunk := r.pos.Row
	r.pos.Row = r.end
	return rec, chunk, nil
}

func (r *genReader) Position() Position { return r.pos }
func (r *genReader) Close()             {}
