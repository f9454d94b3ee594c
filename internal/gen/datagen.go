package gen

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// FieldSpec sets how one datagen column is generated.
type FieldSpec struct {
	Kind   string  // "random" (default) or "sequence"
	Min    float64 // random numbers: inclusive range; sequence: start value. Defaults: ints 0..1000, floats 0..1
	Max    float64
	Length int     // random strings: length (default 10)
	Nulls  float64 // fraction of nulls, 0..1 (default 0)
}

// DatagenConfig configures a datagen source.
type DatagenConfig struct {
	Seed          int64
	RowsPerSecond int64                // spacing of event times for timestamp fields; 0 means 1000
	BaseTime      int64                // microseconds since epoch; 0 means 2026-01-01T00:00:00Z
	Fields        map[string]FieldSpec // optional per-column options (unknown names: error naming the column)
}

const (
	defaultRowsPerSecond = 1000
	defaultIntMax        = 1000
	defaultStringLength  = 10
	datagenSalt          = 0x6461746167656E31
	stringAlphabet       = "abcdefghijklmnopqrstuvwxyz0123456789"
)

type datagen struct {
	schema *arrow.Schema
	cols   []dgCol
	clk    clock
}

// dgCol is one validated column.
type dgCol struct {
	field  arrow.Field
	seq    bool
	nulls  float64
	seed   uint64
	ilo    int64 // signed integers; also the start of string sequences
	ihi    int64
	ulo    uint64 // unsigned integers
	uhi    uint64
	flo    float64 // floats
	fhi    float64
	length int // random strings
}

// NewDatagen generates rows for schema. Supported column types: int8..int64, uint8..uint64, float32/64, bool,
// utf8 (random strings of [a-z0-9]), timestamp (any unit; value = the row's event time, converted to the unit,
// i.e. BaseTime + i*1e6/RowsPerSecond µs — this is the event-time column), date32 (days of the event time).
// Unsupported types: an error naming the column and type.
//
// Integer bounds and sequence starts must be whole numbers within the column type;
// the default integer range 0..1000 is capped at the type's maximum. A range is
// taken as the default when Min and Max are both 0. Sequences count up by one per
// row from Min (integers wrap around at the type's bounds; utf8 sequences are the
// decimal numbers). Timestamp and date32 columns take no options.
func NewDatagen(schema *arrow.Schema, cfg DatagenConfig) (Generator, error) {
	if schema == nil {
		return nil, rberr.New(rberr.Plan, "datagen needs a schema")
	}
	clk, err := newClock(cfg.BaseTime, cfg.RowsPerSecond, defaultRowsPerSecond, "datagen RowsPerSecond")
	if err != nil {
		return nil, err
	}
	var unknown []string
	for name := range cfg.Fields {
		if len(schema.FieldIndices(name)) == 0 {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, rberr.New(rberr.Plan, "datagen options for unknown column(s) %s (schema columns: %s)",
			strings.Join(unknown, ", "), columnList(schema))
	}
	seed := mix64(uint64(cfg.Seed) ^ datagenSalt)
	g := &datagen{schema: schema, clk: clk, cols: make([]dgCol, len(schema.Fields()))}
	for i, f := range schema.Fields() {
		c, err := newDgCol(f, cfg.Fields[f.Name], seed)
		if err != nil {
			return nil, err
		}
		g.cols[i] = c
	}
	return g, nil
}

func columnList(schema *arrow.Schema) string {
	names := make([]string, len(schema.Fields()))
	for i, f := range schema.Fields() {
		names[i] = strconv.Quote(f.Name)
	}
	return strings.Join(names, ", ")
}

// nameHash is FNV-1a, so each column's values depend on its name, not its position.
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func newDgCol(f arrow.Field, spec FieldSpec, seed uint64) (dgCol, error) {
	c := dgCol{field: f, seed: mix64(seed ^ nameHash(f.Name))}
	bad := func(format string, args ...any) (dgCol, error) {
		return dgCol{}, rberr.New(rberr.Plan, "datagen column %q (%s): "+format, append([]any{f.Name, f.Type}, args...)...)
	}
	switch spec.Kind {
	case "", "random":
	case "sequence":
		c.seq = true
	default:
		return bad("unknown kind %q (valid kinds: random, sequence)", spec.Kind)
	}
	if math.IsNaN(spec.Nulls) || spec.Nulls < 0 || spec.Nulls > 1 {
		return bad("Nulls must be a fraction between 0 and 1, got %v", spec.Nulls)
	}
	if spec.Nulls > 0 && !f.Nullable {
		return bad("Nulls is %v but the column is not nullable", spec.Nulls)
	}
	c.nulls = spec.Nulls
	if spec.Length != 0 && (f.Type.ID() != arrow.STRING || c.seq) {
		return bad("Length applies only to random utf8 columns")
	}
	hasRange := spec.Min != 0 || spec.Max != 0
	if c.seq && spec.Max != 0 {
		return bad("a sequence takes only Min (its start value), not Max")
	}

	switch dt := f.Type.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		width := dt.(arrow.FixedWidthDataType).BitWidth()
		lo, hi := -math.Ldexp(1, width-1), math.Ldexp(1, width-1) // type range [lo, hi)
		if !hasRange && !c.seq {
			c.ilo, c.ihi = 0, min(defaultIntMax, int64(hi)-1)
			return c, nil
		}
		if err := checkWhole(spec, lo, hi, c.seq); err != "" {
			return bad("%s", err)
		}
		c.ilo, c.ihi = int64(spec.Min), int64(spec.Max)
	case *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		width := dt.(arrow.FixedWidthDataType).BitWidth()
		hi := math.Ldexp(1, width)
		if !hasRange && !c.seq {
			c.ulo, c.uhi = 0, defaultIntMax
			if width == 8 {
				c.uhi = math.MaxUint8
			}
			return c, nil
		}
		if err := checkWhole(spec, 0, hi, c.seq); err != "" {
			return bad("%s", err)
		}
		c.ulo, c.uhi = uint64(spec.Min), uint64(spec.Max)
	case *arrow.Float32Type, *arrow.Float64Type:
		if math.IsNaN(spec.Min) || math.IsInf(spec.Min, 0) || math.IsNaN(spec.Max) || math.IsInf(spec.Max, 0) {
			return bad("Min and Max must be finite")
		}
		c.flo, c.fhi = spec.Min, spec.Max
		if !hasRange && !c.seq {
			c.flo, c.fhi = 0, 1
		}
		if !c.seq && c.fhi < c.flo {
			return bad("Max %v is below Min %v", c.fhi, c.flo)
		}
	case *arrow.BooleanType:
		if c.seq || hasRange {
			return bad("booleans are random and take no Min, Max or sequence")
		}
	case *arrow.StringType:
		if c.seq {
			if err := checkWhole(spec, math.MinInt64, -math.MinInt64, true); err != "" {
				return bad("%s", err)
			}
			c.ilo = int64(spec.Min)
			break
		}
		if hasRange {
			return bad("random strings take Length, not Min or Max")
		}
		if spec.Length < 0 {
			return bad("Length must not be negative, got %d", spec.Length)
		}
		c.length = spec.Length
		if c.length == 0 {
			c.length = defaultStringLength
		}
	case *arrow.TimestampType, *arrow.Date32Type:
		if c.seq || c.nulls > 0 || hasRange || spec.Length != 0 {
			return bad("the column carries the row's event time and takes no options")
		}
	default:
		return bad("unsupported type (supported: int8..int64, uint8..uint64, float32, float64, bool, utf8, timestamp, date32)")
	}
	return c, nil
}

// checkWhole validates integer bounds (or a sequence start) against the type
// range [lo, hi); it returns a message, or "" when they are fine.
func checkWhole(spec FieldSpec, lo, hi float64, seq bool) string {
	vals := []float64{spec.Min}
	if !seq {
		vals = append(vals, spec.Max)
	}
	for _, v := range vals {
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return "integer Min and Max must be whole numbers, got " + strconv.FormatFloat(v, 'g', -1, 64)
		}
		if v < lo || v >= hi {
			return "value " + strconv.FormatFloat(v, 'f', -1, 64) + " is out of the type's range"
		}
	}
	if !seq && spec.Max < spec.Min {
		return "Max " + strconv.FormatFloat(spec.Max, 'f', -1, 64) + " is below Min " + strconv.FormatFloat(spec.Min, 'f', -1, 64)
	}
	return ""
}

func (g *datagen) Schema() *arrow.Schema { return g.schema }

func (g *datagen) EventTime(i int64) int64 { return g.clk.at(i) }

func (g *datagen) Rows(mem memory.Allocator, start, end int64) (arrow.RecordBatch, error) {
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	if end-start > math.MaxInt32 {
		return nil, rberr.New(rberr.InvalidArgument, "datagen row range [%d, %d) is too large for one batch", start, end)
	}
	n := int(end - start)
	ws := make([]writer, 0, len(g.cols))
	for i := range g.cols {
		ws = append(ws, g.column(mem, &g.cols[i], start, n))
	}
	return assemble(g.schema, n, ws...)
}

func (g *datagen) column(mem memory.Allocator, c *dgCol, start int64, n int) writer {
	switch dt := c.field.Type.(type) {
	case *arrow.Int8Type:
		return genSigned[int8](mem, c, start, n)
	case *arrow.Int16Type:
		return genSigned[int16](mem, c, start, n)
	case *arrow.Int32Type:
		return genSigned[int32](mem, c, start, n)
	case *arrow.Int64Type:
		return genSigned[int64](mem, c, start, n)
	case *arrow.Uint8Type:
		return genUnsigned[uint8](mem, c, start, n)
	case *arrow.Uint16Type:
		return genUnsigned[uint16](mem, c, start, n)
	case *arrow.Uint32Type:
		return genUnsigned[uint32](mem, c, start, n)
	case *arrow.Uint64Type:
		return genUnsigned[uint64](mem, c, start, n)
	case *arrow.Float32Type:
		return genFloat[float32](mem, c, start, n)
	case *arrow.Float64Type:
		return genFloat[float64](mem, c, start, n)
	case *arrow.BooleanType:
		return genBool(mem, c, start, n)
	case *arrow.StringType:
		return genString(mem, c, start, n)
	case *arrow.TimestampType:
		col := newFixedCol[int64](mem, dt, n)
		for k := range n {
			col.v[k] = usToUnit(g.clk.at(start+int64(k)), dt.Unit)
		}
		return col
	default: // *arrow.Date32Type, the only other type NewDatagen accepts
		col := newFixedCol[int32](mem, dt, n)
		for k := range n {
			col.v[k] = int32(floorDiv(g.clk.at(start+int64(k)), 86_400_000_000))
		}
		return col
	}
}

func usToUnit(us int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return floorDiv(us, 1_000_000)
	case arrow.Millisecond:
		return floorDiv(us, 1000)
	case arrow.Nanosecond:
		return us * 1000
	default:
		return us
	}
}

// cellNull decides whether cell k (with generator r) is null, and records it.
func (c *dgCol) cellNull(r *rng, valid *validity, k int) bool {
	if valid != nil && r.float64() < c.nulls {
		valid.setNull(k)
		return true
	}
	return false
}

func (c *dgCol) validity(mem memory.Allocator, n int) *validity {
	if c.nulls > 0 {
		return newValidity(mem, n)
	}
	return nil
}

func genSigned[T int8 | int16 | int32 | int64](mem memory.Allocator, c *dgCol, start int64, n int) writer {
	col := newFixedCol[T](mem, c.field.Type, n)
	valid := c.validity(mem, n)
	span := uint64(c.ihi-c.ilo) + 1 // 0: the full 64-bit range
	for k := range n {
		i := start + int64(k)
		r := newRand(c.seed, i)
		switch {
		case c.cellNull(&r, valid, k):
			col.v[k] = 0
		case c.seq:
			col.v[k] = T(c.ilo + i)
		case span == 0:
			col.v[k] = T(r.next())
		default:
			col.v[k] = T(c.ilo + int64(r.bounded(span)))
		}
	}
	col.valid = valid
	return col
}

func genUnsigned[T uint8 | uint16 | uint32 | uint64](mem memory.Allocator, c *dgCol, start int64, n int) writer {
	col := newFixedCol[T](mem, c.field.Type, n)
	valid := c.validity(mem, n)
	span := c.uhi - c.ulo + 1
	for k := range n {
		i := start + int64(k)
		r := newRand(c.seed, i)
		switch {
		case c.cellNull(&r, valid, k):
			col.v[k] = 0
		case c.seq:
			col.v[k] = T(c.ulo + uint64(i))
		case span == 0:
			col.v[k] = T(r.next())
		default:
			col.v[k] = T(c.ulo + r.bounded(span))
		}
	}
	col.valid = valid
	return col
}

func genFloat[T float32 | float64](mem memory.Allocator, c *dgCol, start int64, n int) writer {
	col := newFixedCol[T](mem, c.field.Type, n)
	valid := c.validity(mem, n)
	width := c.fhi - c.flo
	for k := range n {
		i := start + int64(k)
		r := newRand(c.seed, i)
		switch {
		case c.cellNull(&r, valid, k):
			col.v[k] = 0
		case c.seq:
			col.v[k] = T(c.flo + float64(i))
		default:
			col.v[k] = T(min(c.flo+r.float64()*width, c.fhi))
		}
	}
	col.valid = valid
	return col
}

func genBool(mem memory.Allocator, c *dgCol, start int64, n int) writer {
	col := newBoolCol(mem, n)
	valid := c.validity(mem, n)
	for k := range n {
		r := newRand(c.seed, start+int64(k))
		if !c.cellNull(&r, valid, k) && r.next()>>63 == 1 {
			col.bits[k>>3] |= 1 << (k & 7)
		}
	}
	col.valid = valid
	return col
}

func genString(mem memory.Allocator, c *dgCol, start int64, n int) writer {
	avg := c.length
	if c.seq {
		avg = 8
	}
	col := newStrCol(mem, n, avg)
	valid := c.validity(mem, n)
	for k := range n {
		i := start + int64(k)
		r := newRand(c.seed, i)
		switch {
		case c.cellNull(&r, valid, k):
		case c.seq:
			col.grow(20)
			col.data = strconv.AppendInt(col.data, c.ilo+i, 10)
		default:
			col.grow(c.length)
			base := len(col.data)
			col.data = col.data[:base+c.length]
			s := col.data[base:]
			for len(s) > 0 {
				x := r.next()
				for j := 0; j < 8 && j < len(s); j++ {
					s[j] = stringAlphabet[(uint32(byte(x>>(8*j)))*uint32(len(stringAlphabet)))>>8]
				}
				s = s[min(8, len(s)):]
			}
		}
		col.end()
	}
	col.valid = valid
	return col
}
