package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	_ "unsafe" // go:linkname

	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// This file works around defects of the Parquet library (parquet-go) that
// make it decode valid files into wrong values, by replacing entries of its
// codec and encoding tables at start-up (the library offers no way to
// register a replacement). Each replacement first checks that the table is
// laid out as expected (its entries are the ones the library's lookup
// functions hand out) and leaves it alone otherwise; TestParquetFixes fails in
// that case, so a library upgrade cannot silently undo them. Remove a fix once
// the library has it.

func init() {
	installCodecs()
	installEncodings()
}

// LZ4: the Parquet library's LZ4_RAW codec loses the decoded data of any page whose
// compressed size is more than a third of its uncompressed size (it decodes
// into a fresh buffer that the page reader then drops, leaving zeros), and the
// library has no codec for the deprecated LZ4 (Hadoop-framed) codec, which
// older parquet-mr and Arrow writers used. installCodecs puts this package's
// two LZ4 codecs in the library's codec table.
//
//go:linkname parquetCodecs github.com/parquet-go/parquet-go.compressionCodecs
var parquetCodecs [format.Lz4Raw + 1]compress.Codec

var (
	lz4RawCodec    compress.Codec = lz4Raw{}
	lz4HadoopCodec compress.Codec = lz4Hadoop{}
)

func installCodecs() {
	for _, c := range []format.CompressionCodec{format.Snappy, format.Gzip, format.Zstd, format.Lz4Raw} {
		if parquetCodecs[c] == nil || parquet.LookupCompressionCodec(c) != parquetCodecs[c] {
			return
		}
	}
	if parquetCodecs[format.Lz4] != nil {
		return
	}
	parquetCodecs[format.Lz4Raw] = lz4RawCodec
	parquetCodecs[format.Lz4] = lz4HadoopCodec
}

// lz4MaxRatio bounds how far an LZ4 block can expand (a match of 255+ bytes
// per input byte at most), so that damaged input fails instead of growing the
// output buffer without end.
const lz4MaxRatio = 256

// lz4Raw is the LZ4_RAW codec: one LZ4 block, no framing.
type lz4Raw struct{}

func (lz4Raw) String() string                            { return "LZ4_RAW" }
func (lz4Raw) CompressionCodec() format.CompressionCodec { return format.Lz4Raw }

func (lz4Raw) Encode(dst, src []byte) ([]byte, error) {
	return parquet.Lz4Raw.Encode(dst, src)
}

// Decode decodes into dst's storage when it is large enough (the page reader
// passes a buffer of the page's uncompressed size and keeps only that storage).
func (lz4Raw) Decode(dst, src []byte) ([]byte, error) {
	out := dst[:cap(dst)]
	if len(out) == 0 {
		out = make([]byte, max(3*len(src), 64))
	}
	for {
		n, err := lz4.UncompressBlock(src, out)
		if err == nil {
			return out[:n], nil
		}
		if len(out) >= lz4MaxRatio*len(src)+64 {
			return nil, fmt.Errorf("LZ4 block of %d bytes cannot be decoded: %w", len(src), err)
		}
		out = make([]byte, min(2*len(out), lz4MaxRatio*len(src)+64))
	}
}

// lz4Hadoop is the deprecated LZ4 codec. Writers used it in two ways: Hadoop's
// framing (blocks each prefixed by their big-endian uncompressed and compressed
// sizes) and a bare LZ4 block. Like Arrow, Decode tries the framing first and
// falls back to a bare block. Encode writes the Hadoop framing.
type lz4Hadoop struct{}

func (lz4Hadoop) String() string                            { return "LZ4" }
func (lz4Hadoop) CompressionCodec() format.CompressionCodec { return format.Lz4 }

func (lz4Hadoop) Encode(dst, src []byte) ([]byte, error) {
	block := make([]byte, lz4.CompressBlockBound(len(src)))
	var c lz4.Compressor
	n, err := c.CompressBlock(src, block)
	if err != nil {
		return nil, err
	}
	if n == 0 && len(src) > 0 {
		return nil, errors.New("LZ4 cannot compress the page")
	}
	out := append(dst[:0], make([]byte, 8)...)
	binary.BigEndian.PutUint32(out[0:], uint32(len(src)))
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	return append(out, block[:n]...), nil
}

func (lz4Hadoop) Decode(dst, src []byte) ([]byte, error) {
	if out, ok := decodeHadoopLZ4(dst, src); ok {
		return out, nil
	}
	return lz4Raw{}.Decode(dst, src)
}

func decodeHadoopLZ4(dst, src []byte) ([]byte, bool) {
	out := dst[:0]
	for len(src) > 0 {
		if len(src) < 8 {
			return nil, false
		}
		usize := int(binary.BigEndian.Uint32(src[0:]))
		csize := int(binary.BigEndian.Uint32(src[4:]))
		src = src[8:]
		if csize > len(src) || usize > lz4MaxRatio*csize+64 {
			return nil, false
		}
		if cap(out)-len(out) < usize {
			grown := make([]byte, len(out), len(out)+usize)
			copy(grown, out)
			out = grown
		}
		n, err := lz4.UncompressBlock(src[:csize], out[len(out):len(out)+usize])
		if err != nil || n != usize {
			return nil, false
		}
		out = out[:len(out)+usize]
		src = src[csize:]
	}
	return out, true
}

// RLE booleans: the library's RLE decoder for BOOLEAN values (which pyarrow
// writes for every boolean column of data pages v2) expands a run of n equal
// values into n/8 copies of the value's byte, which is not the bitmap of the
// run, and misaligns every value after a run whose length is not a multiple of
// 8. installEncodings replaces the library's RLE encoding with one whose
// DecodeBoolean is correct (everything else is the library's).
//
//go:linkname parquetEncodings github.com/parquet-go/parquet-go.encodings
var parquetEncodings [format.ByteStreamSplit + 1]encoding.Encoding

func installEncodings() {
	for _, e := range []format.Encoding{format.Plain, format.RLE, format.RLEDictionary, format.ByteStreamSplit} {
		if parquetEncodings[e] == nil || parquet.LookupEncoding(e) != parquetEncodings[e] {
			return
		}
	}
	if parquetEncodings[format.RLE] != encoding.Encoding(&parquet.RLE) {
		return
	}
	parquetEncodings[format.RLE] = rleBooleans{&parquet.RLE}
}

// rleBooleans is the library's RLE encoding with a correct DecodeBoolean.
type rleBooleans struct{ *libRLE }

// libRLE names the embedded encoding so that its field does not hide the
// Encoding method.
type libRLE = rle.Encoding

// maxRLERun bounds the values of one run so that a damaged page fails instead
// of allocating without end (no page holds that many values).
const maxRLERun = 1 << 28

// DecodeBoolean decodes length-prefixed RLE/bit-packed hybrid booleans (bit
// width 1) into a bitmap, least significant bit first, as the library's plain
// boolean pages hold them. The bitmap may hold padding values at its end.
func (rleBooleans) DecodeBoolean(dst, src []byte) ([]byte, error) {
	out := dst[:0]
	if len(src) < 4 {
		return out, fmt.Errorf("RLE booleans shorter than their length prefix: %w", io.ErrUnexpectedEOF)
	}
	n := int(binary.LittleEndian.Uint32(src))
	src = src[4:]
	if n > len(src) {
		return out, fmt.Errorf("RLE booleans of %d bytes in %d: %w", n, len(src), io.ErrUnexpectedEOF)
	}
	src = src[:n]
	nbits := 0
	for i := 0; i < len(src); {
		u, k := binary.Uvarint(src[i:])
		if k <= 0 {
			return out, fmt.Errorf("damaged RLE run header at byte %d: %w", i, io.ErrUnexpectedEOF)
		}
		i += k
		count := u >> 1
		if u&1 != 0 { // bit-packed: count groups of 8 values, a byte each
			if count > uint64(len(src)-i) {
				return out, fmt.Errorf("bit-packed run of %d bytes at byte %d: %w", count, i, io.ErrUnexpectedEOF)
			}
			packed := src[i : i+int(count)]
			i += int(count)
			if off := nbits % 8; off == 0 {
				out = append(out, packed...)
			} else {
				for _, b := range packed {
					out[len(out)-1] |= b << off
					out = append(out, b>>(8-off))
				}
			}
			nbits += 8 * len(packed)
			continue
		}
		if count > maxRLERun {
			return out, fmt.Errorf("RLE run of %d values", count)
		}
		if i >= len(src) {
			return out, fmt.Errorf("RLE run without its value: %w", io.ErrUnexpectedEOF)
		}
		v := src[i]&1 != 0
		i++
		end := nbits + int(count)
		for len(out) < (end+7)/8 {
			out = append(out, 0)
		}
		if v {
			bitutil.SetBitsTo(out, int64(nbits), int64(count), true)
		}
		nbits = end
	}
	return out, nil
}
