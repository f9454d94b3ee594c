package source

import "testing"

// Positions round-trip with and without the lane's event time (version 1, written before
// positions carried it, still reads); cut or padded bytes are errors.
func TestPositionEncoding(t *testing.T) {
	for _, p := range []Position{
		{}, {Split: 3, Chunk: 2, Row: 99},
		{Split: 1, Row: 7, EventMax: -5_000_000, HasEventMax: true},
		{Split: 4, EventMax: 0, HasEventMax: true},
	} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q Position
		if err := q.UnmarshalBinary(b); err != nil || q != p {
			t.Fatalf("%+v: got %+v, %v", p, q, err)
		}
		for cut := 1; cut < len(b); cut++ {
			if err := q.UnmarshalBinary(b[:cut]); err == nil {
				t.Fatalf("%+v cut to %d bytes read", p, cut)
			}
		}
		if err := q.UnmarshalBinary(append(b, 0)); err == nil {
			t.Fatalf("%+v with a byte more read", p)
		}
	}
}
