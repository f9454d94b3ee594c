package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	_ "unsafe" // go:linkname

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// The Parquet library's LZ4_RAW codec loses the decoded data of any page whose
// compressed size is more than a third of its uncompressed size (it decodes
// into a fresh buffer that the page reader then drops, leaving zeros), and the
// library has no codec for the deprecated LZ4 (Hadoop-framed) codec, which
// older parquet-mr and Arrow writers used. The library offers no way to
// register a codec, so this package installs its own two LZ4 codecs into the
// library's codec table at start-up. installCodecs checks that the table is
// laid out as expected (its entries are the ones LookupCompressionCodec hands
// out) and leaves it alone otherwise; TestLZ4Codecs fails in that case.
//
//go:linkname parquetCodecs github.com/parquet-go/parquet-go.compressionCodecs
var parquetCodecs [format.Lz4Raw + 1]compress.Codec

var (
	lz4RawCodec    compress.Codec = lz4Raw{}
	lz4HadoopCodec compress.Codec = lz4Hadoop{}
)

func init() { installCodecs() }

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
