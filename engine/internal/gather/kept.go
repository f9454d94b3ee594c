package gather

import (
	"encoding/binary"
	mbits "math/bits"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// Kept appends to rows the rows where mask is true (not false, not null), reading the
// mask 64 bits at a time.
func Kept(mask *array.Boolean, rows []int32) []int32 {
	n := mask.Len()
	d := mask.Data()
	if n == 0 || d.Buffers()[1] == nil || mask.NullN() == n {
		return rows // (an all-null mask may come without a values buffer)
	}
	rows = vec.Reserve(rows, n) // at most n: one allocation, not one per quarter more
	if d.Offset()%64 != 0 {
		for i := range n {
			if mask.IsValid(i) && mask.Value(i) {
				rows = append(rows, int32(i))
			}
		}
		return rows
	}
	word := func(buf []byte, w int) uint64 { // 64 bits from bit 64*w on (zero past the end)
		var b [8]byte
		copy(b[:], buf[d.Offset()/8+8*w:])
		return binary.LittleEndian.Uint64(b[:])
	}
	vals := d.Buffers()[1].Bytes()
	var valid []byte
	if d.NullN() > 0 && d.Buffers()[0] != nil {
		valid = d.Buffers()[0].Bytes()
	}
	for w := 0; 64*w < n; w++ {
		bitsOn := word(vals, w)
		if valid != nil {
			bitsOn &= word(valid, w)
		}
		if rest := n - 64*w; rest < 64 {
			bitsOn &= 1<<rest - 1
		}
		for bitsOn != 0 {
			rows = append(rows, int32(64*w+mbits.TrailingZeros64(bitsOn)))
			bitsOn &= bitsOn - 1
		}
	}
	return rows
}
