package source

import (
	"encoding/binary"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// MarshalBinary encodes a position as the opaque bytes a checkpoint keeps per source
// split: a version byte, then Split, Chunk and Row as varints; version 2 adds EventMax as
// a varint when HasEventMax.
func (p Position) MarshalBinary() ([]byte, error) {
	b := make([]byte, 1, 1+4*binary.MaxVarintLen64)
	b[0] = 1
	if p.HasEventMax {
		b[0] = 2
	}
	b = binary.AppendVarint(b, p.Split)
	b = binary.AppendVarint(b, p.Chunk)
	b = binary.AppendVarint(b, p.Row)
	if p.HasEventMax {
		b = binary.AppendVarint(b, p.EventMax)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; anything else is a Data error.
func (p *Position) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != 1 && b[0] != 2 {
		return rberr.New(rberr.Data, "source position: unknown encoding")
	}
	n := 3
	if b[0] == 2 {
		n = 4
	}
	b = b[1:]
	var v [4]int64
	for i := range n {
		x, k := binary.Varint(b)
		if k <= 0 {
			return rberr.New(rberr.Data, "source position: truncated or malformed")
		}
		v[i], b = x, b[k:]
	}
	if len(b) != 0 {
		return rberr.New(rberr.Data, "source position: %d bytes too many", len(b))
	}
	p.Split, p.Chunk, p.Row = v[0], v[1], v[2]
	p.EventMax, p.HasEventMax = v[3], n == 4
	return nil
}
