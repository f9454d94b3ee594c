package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkIPCStream bounds the messages of an Arrow IPC stream before arrow-go
// reads them. arrow-go sizes slices by vector lengths in a message's
// flatbuffer (custom metadata of every message; fields and children of the
// schema) and recurses into a schema's children without a depth limit, so a
// hostile record could make it allocate gigabytes or overflow the stack:
// both fatal, not panics. This walk checks that each such vector fits in its
// message, that the field tree is shallow and small and that every message
// and body lies inside the stream; the rest is left to arrow-go (whose panics
// on bad offsets the decoder recovers).
func checkIPCStream(stream []byte) error {
	inflated := maxInflated(len(stream))
	for pos, first := 0, true; pos < len(stream); first = false {
		rest := stream[pos:]
		if len(rest) < 4 {
			return errors.New("truncated message header")
		}
		n := binary.LittleEndian.Uint32(rest)
		hdr := 4
		if n == 0xFFFFFFFF {
			if len(rest) < 8 {
				return errors.New("truncated message header")
			}
			n = binary.LittleEndian.Uint32(rest[4:])
			hdr = 8
		}
		if n == 0 {
			return nil // end of stream
		}
		if n < 4 || uint64(n) > uint64(len(rest)-hdr) {
			return fmt.Errorf("message length %d does not fit the %d bytes left of the stream", n, len(rest)-hdr)
		}
		fb := flatbuf{b: rest[hdr : hdr+int(n)]}
		body, rb, err := fb.checkMessage(first)
		if err != nil {
			return err
		}
		if body < 0 || body > int64(len(rest)-hdr-int(n)) {
			return fmt.Errorf("message body length %d does not fit the stream", body)
		}
		if rb >= 0 {
			start := hdr + int(n)
			if err := fb.checkCompressedBuffers(rb, rest[start:start+int(body)], &inflated); err != nil {
				return err
			}
		}
		pos += hdr + int(n) + int(body)
	}
	return nil
}

// checkMessage checks one Message flatbuffer and returns its body length and
// the position of its RecordBatch table (-1 for a schema).
func (fb flatbuf) checkMessage(first bool) (body int64, rb int, err error) {
	rb = -1
	body, err = fb.checkMessageTables(first, &rb)
	return body, rb, err
}

func (fb flatbuf) checkMessageTables(first bool, rbPos *int) (int64, error) {
	msg, err := fb.root()
	if err != nil {
		return 0, err
	}
	if err := fb.checkVector(msg, 4, 4); err != nil { // Message.custom_metadata
		return 0, err
	}
	htype, err := fb.u8(msg, 1)
	if err != nil {
		return 0, err
	}
	if first != (htype == 1) { // MessageHeader.Schema
		return 0, fmt.Errorf("message type %d where a schema is %v", htype, map[bool]string{true: "expected", false: "not allowed"}[first])
	}
	header, ok, err := fb.table(msg, 2)
	if err != nil || !ok {
		return 0, errors.Join(errors.New("message without a header"), err)
	}
	switch htype {
	case 1: // Schema: fields, custom_metadata, features
		for _, f := range []struct{ field, elem int }{{1, 4}, {2, 4}, {3, 8}} {
			if err := fb.checkVector(header, f.field, f.elem); err != nil {
				return 0, err
			}
		}
		budget := 10000
		if err := fb.checkFields(header, 1, 0, &budget); err != nil {
			return 0, err
		}
	case 2: // DictionaryBatch: its RecordBatch is field 1
		rb, ok, err := fb.table(header, 1)
		if err != nil || !ok {
			return 0, errors.Join(errors.New("dictionary batch without data"), err)
		}
		if err := fb.checkRecordBatch(rb); err != nil {
			return 0, err
		}
		*rbPos = rb
	case 3:
		if err := fb.checkRecordBatch(header); err != nil {
			return 0, err
		}
		*rbPos = header
	default:
		return 0, fmt.Errorf("unsupported message type %d", htype)
	}
	p, ok, err := fb.field(msg, 3) // bodyLength
	if err != nil || !ok {
		return 0, err
	}
	if p+8 > len(fb.b) {
		return 0, errFlatbuf
	}
	return int64(binary.LittleEndian.Uint64(fb.b[p:])), nil
}

// checkRecordBatch checks a RecordBatch's vectors: nodes and buffers (16-byte
// structs) and variadic buffer counts (int64).
func (fb flatbuf) checkRecordBatch(t int) error {
	for _, f := range []struct{ field, elem int }{{1, 16}, {2, 16}, {4, 8}} {
		if err := fb.checkVector(t, f.field, f.elem); err != nil {
			return err
		}
	}
	return nil
}

// maxInflated bounds what the compressed buffers of one stream of n bytes
// may decompress to: arrow-go allocates each buffer at the size its first
// eight bytes declare before decompressing, so a forged size is a fatal
// out-of-memory, not an error. 1024x (or 64 MiB for small records) is far
// beyond what LZ4 or ZSTD give on real columns.
func maxInflated(n int) int64 { return max(64<<20, 1024*int64(n)) }

// checkCompressedBuffers checks, for a RecordBatch whose body is compressed,
// that every buffer lies inside the body and that the sizes the buffers
// declare for their decompressed data stay within budget.
func (fb flatbuf) checkCompressedBuffers(rb int, body []byte, budget *int64) error {
	if _, ok, err := fb.table(rb, 3); err != nil || !ok { // RecordBatch.compression
		return err
	}
	vec, n, ok, err := fb.vector(rb, 2) // RecordBatch.buffers
	if err != nil || !ok {
		return err
	}
	for i := range n {
		p := vec + 16*i
		if p+16 > len(fb.b) {
			return errFlatbuf
		}
		off := int64(binary.LittleEndian.Uint64(fb.b[p:]))
		length := int64(binary.LittleEndian.Uint64(fb.b[p+8:]))
		if length == 0 {
			continue
		}
		if off < 0 || length < 8 || off > int64(len(body)) || length > int64(len(body))-off {
			return fmt.Errorf("compressed buffer %d (offset %d, length %d) does not fit the %d-byte message body", i, off, length, len(body))
		}
		size := int64(binary.LittleEndian.Uint64(body[off:]))
		if size == -1 {
			continue // stored uncompressed
		}
		if size < 0 || size > *budget {
			return fmt.Errorf("compressed buffer %d declares %d bytes decompressed, more than the %d allowed for this record", i, size, *budget)
		}
		*budget -= size
	}
	return nil
}

const maxIPCDepth = 64

// checkFields walks the Field tables of the vector in field fi of table t.
func (fb flatbuf) checkFields(t, fi, depth int, budget *int) error {
	if depth > maxIPCDepth {
		return fmt.Errorf("schema nests fields deeper than %d", maxIPCDepth)
	}
	vec, n, ok, err := fb.vector(t, fi)
	if err != nil || !ok {
		return err
	}
	for i := range n {
		*budget--
		if *budget < 0 {
			return errors.New("schema has too many fields")
		}
		p := vec + 4*i
		field, err := fb.deref(p)
		if err != nil {
			return err
		}
		if err := fb.checkVector(field, 5, 4); err != nil { // children
			return err
		}
		if err := fb.checkVector(field, 6, 4); err != nil { // custom_metadata
			return err
		}
		if err := fb.checkFields(field, 5, depth+1, budget); err != nil {
			return err
		}
	}
	return nil
}

// flatbuf reads a flatbuffer with every access bounds-checked.
type flatbuf struct{ b []byte }

var errFlatbuf = errors.New("damaged flatbuffer in the schema message")

func (fb flatbuf) u32(p int) (uint32, error) {
	if p < 0 || p+4 > len(fb.b) {
		return 0, errFlatbuf
	}
	return binary.LittleEndian.Uint32(fb.b[p:]), nil
}

func (fb flatbuf) u16(p int) (uint16, error) {
	if p < 0 || p+2 > len(fb.b) {
		return 0, errFlatbuf
	}
	return binary.LittleEndian.Uint16(fb.b[p:]), nil
}

// deref follows the unsigned offset stored at p.
func (fb flatbuf) deref(p int) (int, error) {
	o, err := fb.u32(p)
	if err != nil {
		return 0, err
	}
	q := p + int(o)
	if q < 0 || q >= len(fb.b) {
		return 0, errFlatbuf
	}
	return q, nil
}

func (fb flatbuf) root() (int, error) { return fb.deref(0) }

// field returns the position of field i of the table at t, or ok=false if absent.
func (fb flatbuf) field(t, i int) (int, bool, error) {
	so, err := fb.u32(t)
	if err != nil {
		return 0, false, err
	}
	vt := t - int(int32(so))
	vtsize, err := fb.u16(vt)
	if err != nil {
		return 0, false, err
	}
	// As the flatbuffers runtime reads it (and so arrow-go): a field is present when
	// its slot starts inside the vtable's size, even if an odd size cuts the slot.
	slot := 4 + 2*i
	if slot >= int(vtsize) {
		return 0, false, nil
	}
	off, err := fb.u16(vt + slot)
	if err != nil || off == 0 {
		return 0, false, err
	}
	return t + int(off), true, nil
}

func (fb flatbuf) u8(t, i int) (uint8, error) {
	p, ok, err := fb.field(t, i)
	if err != nil || !ok {
		return 0, err
	}
	if p >= len(fb.b) {
		return 0, errFlatbuf
	}
	return fb.b[p], nil
}

func (fb flatbuf) table(t, i int) (int, bool, error) {
	p, ok, err := fb.field(t, i)
	if err != nil || !ok {
		return 0, false, err
	}
	q, err := fb.deref(p)
	return q, err == nil, err
}

// vector returns the position of the first element and the length of the
// vector in field i of table t.
func (fb flatbuf) vector(t, i int) (int, int, bool, error) {
	v, ok, err := fb.table(t, i)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	n, err := fb.u32(v)
	if err != nil {
		return 0, 0, false, err
	}
	return v + 4, int(n), true, nil
}

// checkVector checks that the vector in field i of table t, with elements of
// elem bytes, lies inside the buffer.
func (fb flatbuf) checkVector(t, i, elem int) error {
	start, n, ok, err := fb.vector(t, i)
	if err != nil || !ok {
		return err
	}
	if uint64(n)*uint64(elem) > uint64(len(fb.b)-start) {
		return errFlatbuf
	}
	return nil
}
