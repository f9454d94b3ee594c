package batch

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// dictValues decodes a BYTE_ARRAY column whose writer recorded a dictionary
// type into Arrow dictionary arrays of that type.
//
// Dictionary-encoded pages are read at page level: the chunk's dictionary
// page becomes the dictionary and the pages' indexes become the indices, so no
// value is decoded per row. Writers switch to plain pages mid-chunk when the
// dictionary grows too big (and write only plain pages with dictionary
// encoding off); the values of such pages are looked up in, and added to, the
// chunk's dictionary. A batch's dictionary is the chunk's dictionary as far
// as it has grown by the batch's end, so batches of one chunk share it while
// it does not grow.
type dictValues struct {
	dt     *arrow.DictionaryType
	maxIdx int64 // largest index the index type holds
	mem    memory.Allocator

	// The chunk's dictionary: values back to back and len+1 offsets.
	ddata []byte
	doffs []int32
	memo  map[string]int32 // value -> index; built on first need
	seen  parquet.Dictionary
	remap []int32 // dictionary page index -> chunk index; nil for identity
	darr  arrow.Array

	// The current page.
	data []byte   // plain page: values back to back
	offs []uint32 // plain page: offsets into data
	idx  []int32  // dictionary-encoded page: indexes
	pos  int

	out []int32 // the batch's indices
}

// tooManyValues is the error for a dictionary its type cannot address: the
// file is sound, its values do not fit the recorded type.
type tooManyValues struct{ error }

func (e tooManyValues) Unwrap() error { return e.error }

func newDictValues(dt *arrow.DictionaryType) *dictValues {
	v := &dictValues{dt: dt, doffs: []int32{0}}
	switch dt.IndexType.ID() {
	case arrow.INT8:
		v.maxIdx = math.MaxInt8
	case arrow.UINT8:
		v.maxIdx = math.MaxUint8
	case arrow.INT16:
		v.maxIdx = math.MaxInt16
	case arrow.UINT16:
		v.maxIdx = math.MaxUint16
	default:
		v.maxIdx = math.MaxInt32
	}
	return v
}

func (v *dictValues) size() int { return len(v.doffs) - 1 }

// add appends a value to the chunk's dictionary and returns its index.
func (v *dictValues) add(b []byte) (int32, error) {
	n := v.size()
	if int64(n) > v.maxIdx {
		return 0, tooManyValues{fmt.Errorf("the column's dictionary holds more than %d values, the most its %s indices can address", v.maxIdx+1, v.dt.IndexType)}
	}
	if int64(len(v.ddata))+int64(len(b)) > math.MaxInt32 {
		return 0, tooManyValues{errors.New("the column's dictionary holds more than 2 GiB of values")}
	}
	v.ddata = append(v.ddata, b...)
	v.doffs = append(v.doffs, int32(len(v.ddata)))
	if v.memo != nil {
		v.memo[string(b)] = int32(n)
	}
	return int32(n), nil
}

// lookup returns the index of a value in the chunk's dictionary, adding it
// if it is not there yet.
func (v *dictValues) lookup(b []byte) (int32, error) {
	if v.memo == nil {
		v.memo = make(map[string]int32, v.size())
		for i := range v.size() {
			v.memo[string(v.ddata[v.doffs[i]:v.doffs[i+1]])] = int32(i)
		}
	}
	if i, ok := v.memo[string(b)]; ok {
		return i, nil
	}
	return v.add(b)
}

func (v *dictValues) setPage(p parquet.Page) (int, error) {
	v.pos = 0
	if d := p.Dictionary(); d != nil {
		if d != v.seen {
			if err := v.setDictionary(d); err != nil {
				return 0, err
			}
		}
		v.data, v.offs = nil, nil
		idx, err := pageIndexes(p, d.Len())
		v.idx = idx
		return len(idx), err
	}
	v.data, v.offs = pageData(p)
	v.idx = nil
	if len(v.offs) == 0 {
		return 0, nil
	}
	return len(v.offs) - 1, nil
}

// setDictionary takes in a dictionary page. The chunk's first one becomes
// the dictionary as it is; any later one (a writer may repeat it) is mapped
// onto it.
func (v *dictValues) setDictionary(d parquet.Dictionary) error {
	data, offs := pageData(d.Page())
	if len(offs) != d.Len()+1 {
		return fmt.Errorf("dictionary of %d values has %d offsets", d.Len(), len(offs))
	}
	v.seen = d
	if v.size() == 0 && v.memo == nil {
		if int64(d.Len()) > v.maxIdx+1 {
			return tooManyValues{fmt.Errorf("the column's dictionary holds %d values, more than its %s indices can address", d.Len(), v.dt.IndexType)}
		}
		base := offs[0]
		if int64(offs[len(offs)-1]-base) > math.MaxInt32 {
			return tooManyValues{errors.New("the column's dictionary holds more than 2 GiB of values")}
		}
		v.ddata = append(v.ddata[:0], data[base:offs[len(offs)-1]]...)
		v.doffs = v.doffs[:0]
		for _, o := range offs {
			v.doffs = append(v.doffs, int32(o-base))
		}
		v.remap = nil
		return nil
	}
	v.remap = make([]int32, d.Len())
	for i := range v.remap {
		j, err := v.lookup(data[offs[i]:offs[i+1]])
		if err != nil {
			return err
		}
		v.remap[i] = j
	}
	return nil
}

func (v *dictValues) begin(n int, mem memory.Allocator) {
	v.mem = mem
	if cap(v.out) < n {
		v.out = make([]int32, n)
	}
	v.out = v.out[:n]
}

// next returns the chunk index of the page's next value.
func (v *dictValues) next() (int32, error) {
	i := v.pos
	v.pos++
	if v.idx != nil {
		if v.remap != nil {
			return v.remap[v.idx[i]], nil
		}
		return v.idx[i], nil
	}
	return v.lookup(v.data[v.offs[i]:v.offs[i+1]])
}

func (v *dictValues) put(at, k int) error {
	if v.idx != nil && v.remap == nil {
		copy(v.out[at:at+k], v.idx[v.pos:v.pos+k])
		v.pos += k
		return nil
	}
	for i := at; i < at+k; i++ {
		j, err := v.next()
		if err != nil {
			return err
		}
		v.out[i] = j
	}
	return nil
}

func (v *dictValues) putSparse(at int, defs []byte, maxDef byte) error {
	for i, d := range defs {
		if d != maxDef {
			v.out[at+i] = 0
			continue
		}
		j, err := v.next()
		if err != nil {
			return err
		}
		v.out[at+i] = j
	}
	return nil
}

// dictionary returns the chunk's dictionary as an array, rebuilt only when
// it has grown.
func (v *dictValues) dictionary() arrow.Array {
	if v.darr != nil && v.darr.Len() == v.size() {
		return v.darr
	}
	if v.darr != nil {
		v.darr.Release()
	}
	offs := memory.NewResizableBuffer(v.mem)
	offs.Resize(4 * len(v.doffs))
	copy(castSlice[int32](offs.Bytes()), v.doffs)
	data := memory.NewResizableBuffer(v.mem)
	data.Resize(len(v.ddata))
	copy(data.Bytes(), v.ddata)
	v.darr = makeArray(v.dt.ValueType, v.size(), []*memory.Buffer{nil, offs, data}, 0)
	return v.darr
}

func (v *dictValues) finish(n int, valid *memory.Buffer, nulls int) arrow.Array {
	width := v.dt.IndexType.(arrow.FixedWidthDataType).Bytes()
	buf := memory.NewResizableBuffer(v.mem)
	buf.Resize(n * width)
	src := v.out[:n]
	switch v.dt.IndexType.ID() {
	case arrow.INT8, arrow.UINT8:
		dst := buf.Bytes()
		for i, x := range src {
			dst[i] = byte(x)
		}
	case arrow.INT16, arrow.UINT16:
		dst := castSlice[uint16](buf.Bytes())
		for i, x := range src {
			dst[i] = uint16(x)
		}
	case arrow.INT32, arrow.UINT32:
		copy(castSlice[int32](buf.Bytes()), src)
	default:
		dst := castSlice[int64](buf.Bytes())
		for i, x := range src {
			dst[i] = int64(x)
		}
	}
	indices := array.NewData(v.dt.IndexType, n, []*memory.Buffer{valid, buf}, nil, nulls, 0)
	for _, b := range []*memory.Buffer{valid, buf} {
		if b != nil {
			b.Release()
		}
	}
	dict := v.dictionary()
	data := array.NewData(v.dt, n, indices.Buffers(), nil, nulls, 0)
	data.SetDictionary(dict.Data())
	indices.Release()
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

func (v *dictValues) abort() {}

// release drops the chunk's dictionary.
func (v *dictValues) release() {
	if v.darr != nil {
		v.darr.Release()
		v.darr = nil
	}
}
