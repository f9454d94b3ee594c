package source

import (
	"encoding/binary"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// MarshalBinary encodes a position as the opaque bytes a checkpoint keeps per source
// split: a version byte, then Split, Chunk and Row as varints.
func (p Position) MarshalBinary() ([]byte, error) {
	b := make([]byte, 1, 1+3*binary.MaxVarintLen64)
	b[0] = 1
	b = binary.AppendVarint(b, p.Split)
	b = binary.AppendVarint(b, p.Chunk)
	b = binary.AppendVarint(b, p.Row)
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; anything else is a Data error.
func (p *Position) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != 1 {
		return rberr.New(rberr.Data, "source position: unknown encoding")
	}
	b = b[1:]
	var v [3]int64
	for i := range v {
		x, n := binary.Varint(b)
		if n <= 0 {
			return rberr.New(rberr.Data, "source position: truncated or malformed")
		}
		v[i], b = x, b[n:]
	}
	if len(b) != 0 {
		return rberr.New(rberr.Data, "source position: %d bytes too many", len(b))
	}
	p.Split, p.Chunk, p.Row = v[0], v[1], v[2]
	return nil
}
