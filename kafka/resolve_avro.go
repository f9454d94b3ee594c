package kafka

import (
	"fmt"
	"reflect"
	"sort"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// Avro schema resolution (the specification's "Schema Resolution"): a datum written
// with one schema (the writer's) read as another (the reader's), to any depth.
// The datum is read with the writer schema into the intermediate form, then converted
// by a tree of avroConv built once per writer schema:
//
//   - records: reader fields are matched to writer fields by name (or one of the
//     reader field's aliases); writer fields the reader lacks are read and dropped; a
//     reader field the writer lacks takes its default (a reader field without one
//     makes the writer schema unreadable);
//   - promotions: int to long, float or double; long to float or double; float to
//     double; string to bytes and bytes to string;
//   - enums: a writer symbol the reader lacks is the reader's default symbol, else the
//     datum is a bad record;
//   - unions: a writer union's branch is resolved against the reader (the first branch
//     of a reader union that it matches); a branch that matches nothing, or null where
//     the reader has no null, makes that datum a bad record;
//   - arrays and maps resolve their items and values; fixed must have the same size.
//
// Logical types go with their underlying type, except that decimals must have the
// same precision and scale and timestamps the same unit (the intermediate values of
// the reader's type must mean the same).

// avroConv converts an intermediate value of the writer schema into the reader's.
type avroConv func(v any) (any, error)

func identityConv(v any) (any, error) { return v, nil }

// resolveAvro builds the conversion of datums of writer schema w read as reader
// schema r, or says why they cannot be read so.
func resolveAvro(path string, w, r avro.Schema) (avroConv, error) {
	w, r = deref(w), deref(r)
	if ru, ok := r.(*avro.UnionSchema); ok {
		return resolveIntoUnion(path, w, ru)
	}
	if wu, ok := w.(*avro.UnionSchema); ok {
		// Each writer branch must resolve to the reader; those that cannot make the
		// datums of that branch bad records (not the schema: they may never occur).
		branches, null := unionBranches(wu)
		convs := make([]avroConv, len(wu.Types()))
		errs := make([]error, len(wu.Types()))
		for _, b := range branches {
			convs[b], errs[b] = resolveAvro(path, wu.Types()[b], r)
		}
		if null >= 0 {
			errs[null] = textcodec.FieldError(path, "null in the writer's union, which the reader's type %s does not hold", r.Type())
		}
		return func(v any) (any, error) {
			b := writerBranch(wu, branches, null, v)
			if errs[b] != nil {
				return nil, errs[b]
			}
			return convs[b](branchValue(branches, b, v))
		}, nil
	}
	switch r := r.(type) {
	case *avro.RecordSchema:
		ws, ok := w.(*avro.RecordSchema)
		if !ok {
			return nil, mismatch(path, w, r)
		}
		return resolveRecord(path, ws, r)
	case *avro.ArraySchema:
		ws, ok := w.(*avro.ArraySchema)
		if !ok {
			return nil, mismatch(path, w, r)
		}
		item, err := resolveAvro(path+"[]", ws.Items(), r.Items())
		if err != nil {
			return nil, err
		}
		return func(v any) (any, error) {
			in := v.([]any)
			out := make([]any, len(in))
			for i, x := range in {
				var err error
				if out[i], err = item(x); err != nil {
					return nil, err
				}
			}
			return out, nil
		}, nil
	case *avro.MapSchema:
		ws, ok := w.(*avro.MapSchema)
		if !ok {
			return nil, mismatch(path, w, r)
		}
		val, err := resolveAvro(path+"{}", ws.Values(), r.Values())
		if err != nil {
			return nil, err
		}
		return func(v any) (any, error) {
			in := v.([]any)
			out := make([]any, len(in))
			for i, x := range in {
				kv := x.([]any)
				y, err := val(kv[1])
				if err != nil {
					return nil, err
				}
				out[i] = []any{kv[0], y}
			}
			return out, nil
		}, nil
	case *avro.EnumSchema:
		_, ok := w.(*avro.EnumSchema)
		if !ok {
			return nil, mismatch(path, w, r)
		}
		known := map[string]bool{}
		for _, s := range r.Symbols() {
			known[s] = true
		}
		return func(v any) (any, error) {
			s := v.(string)
			if known[s] {
				return s, nil
			}
			if r.HasDefault() {
				return r.Default(), nil
			}
			return nil, textcodec.FieldError(path, "enum symbol %q is not one of the reader's (and the reader's enum has no default)", s)
		}, nil
	case *avro.FixedSchema:
		ws, ok := w.(*avro.FixedSchema)
		if !ok || ws.Size() != r.Size() {
			return nil, mismatch(path, w, r)
		}
		if err := sameLogical(path, w, r); err != nil {
			return nil, err
		}
		return identityConv, nil
	case *avro.PrimitiveSchema:
		ws, ok := w.(*avro.PrimitiveSchema)
		if !ok {
			return nil, mismatch(path, w, r)
		}
		return resolvePrimitive(path, ws, r)
	}
	return nil, mismatch(path, w, r)
}

// writerBranch is the index of the writer union's branch that v (read with it) took.
func writerBranch(u *avro.UnionSchema, branches []int, null int, v any) int {
	if v == nil {
		return null
	}
	if len(branches) == 1 {
		return branches[0]
	}
	for i, x := range v.([]any) {
		if x != nil {
			return branches[i]
		}
	}
	return null
}

// branchValue is the value of branch b in v, a union's intermediate value.
func branchValue(branches []int, b int, v any) any {
	if len(branches) == 1 || v == nil {
		return v
	}
	for i, x := range branches {
		if x == b {
			return v.([]any)[i]
		}
	}
	return nil
}

// resolveIntoUnion resolves writer schema w (a union or not) into reader union r: each
// writer branch goes to the first reader branch it matches.
func resolveIntoUnion(path string, w avro.Schema, r *avro.UnionSchema) (avroConv, error) {
	rBranches, rNull := unionBranches(r)
	// into wraps a value of reader branch rb in the reader union's intermediate form.
	into := func(rb int, v any) any {
		if len(rBranches) == 1 {
			return v
		}
		out := make([]any, len(rBranches))
		for i, b := range rBranches {
			if b == rb {
				out[i] = v
			}
		}
		return out
	}
	// one resolves a non-union writer schema into the reader union.
	one := func(ws avro.Schema) (avroConv, error) {
		if deref(ws).Type() == avro.Null {
			if rNull < 0 {
				return nil, textcodec.FieldError(path, "null in the writer's schema, which the reader's union does not hold")
			}
			return func(any) (any, error) { return nil, nil }, nil
		}
		var firstErr error
		for _, pass := range []bool{true, false} { // same type first, then promotions
			for _, rb := range rBranches {
				if pass != sameKind(ws, r.Types()[rb]) {
					continue
				}
				c, err := resolveAvro(path, ws, r.Types()[rb])
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				return func(v any) (any, error) {
					x, err := c(v)
					if err != nil {
						return nil, err
					}
					return into(rb, x), nil
				}, nil
			}
		}
		if firstErr == nil {
			firstErr = textcodec.FieldError(path, "the writer's %s matches no branch of the reader's union", deref(ws).Type())
		}
		return nil, firstErr
	}
	wu, ok := deref(w).(*avro.UnionSchema)
	if !ok {
		return one(w)
	}
	wBranches, wNull := unionBranches(wu)
	convs := make([]avroConv, len(wu.Types()))
	errs := make([]error, len(wu.Types()))
	for i, t := range wu.Types() {
		convs[i], errs[i] = one(t)
	}
	return func(v any) (any, error) {
		b := writerBranch(wu, wBranches, wNull, v)
		if errs[b] != nil {
			return nil, errs[b]
		}
		return convs[b](branchValue(wBranches, b, v))
	}, nil
}

// sameKind says whether w and r are of one Avro type (and name, for named types):
// the branch of a reader union a writer type goes to before any promotion.
func sameKind(w, r avro.Schema) bool {
	w, r = deref(w), deref(r)
	if w.Type() != r.Type() {
		return false
	}
	wn, ok1 := w.(avro.NamedSchema)
	rn, ok2 := r.(avro.NamedSchema)
	return !ok1 || !ok2 || wn.Name() == rn.Name()
}

func resolveRecord(path string, w, r *avro.RecordSchema) (avroConv, error) {
	wIdx := map[string]int{}
	for i, f := range w.Fields() {
		wIdx[f.Name()] = i
	}
	type fieldConv struct {
		from int // writer field index, -1: the default
		conv avroConv
		def  any
	}
	fcs := make([]fieldConv, len(r.Fields()))
	for i, f := range r.Fields() {
		fp := textcodec.JoinPath(path, f.Name())
		j, ok := wIdx[f.Name()]
		for _, a := range f.Aliases() {
			if ok {
				break
			}
			j, ok = wIdx[a]
		}
		if !ok {
			if !f.HasDefault() {
				if u, isUnion := deref(f.Type()).(*avro.UnionSchema); isUnion {
					if _, null := unionBranches(u); null >= 0 {
						fcs[i] = fieldConv{from: -1} // a nullable field without default: null
						continue
					}
				}
				return nil, textcodec.FieldError(fp, "not in the writer's schema, and the reader's field has no default (nor null)")
			}
			d, err := defaultValue(fp, f)
			if err != nil {
				return nil, err
			}
			fcs[i] = fieldConv{from: -1, def: d}
			continue
		}
		c, err := resolveAvro(fp, w.Fields()[j].Type(), f.Type())
		if err != nil {
			return nil, err
		}
		fcs[i] = fieldConv{from: j, conv: c}
	}
	return func(v any) (any, error) {
		in := v.([]any)
		out := make([]any, len(fcs))
		for i, fc := range fcs {
			if fc.from < 0 {
				out[i] = fc.def
				continue
			}
			var err error
			if out[i], err = fc.conv(in[fc.from]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}, nil
}

// defaultValue is the default of reader field f in the intermediate form.
func defaultValue(path string, f *avro.Field) (any, error) {
	v, err := defaultOf(path, f.Type(), f.Default())
	if err != nil {
		return nil, textcodec.FieldError(path, "its default %v cannot be used: %v", f.Default(), err)
	}
	return v, nil
}

// defaultOf converts d, a default as hamba/avro parsed it (and checked it against s),
// into the intermediate form of schema s.
func defaultOf(path string, s avro.Schema, d any) (any, error) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema: // the default is of the first branch
		first := s.Types()[0]
		if deref(first).Type() == avro.Null {
			return nil, nil
		}
		v, err := defaultOf(path, first, d)
		if err != nil {
			return nil, err
		}
		branches, _ := unionBranches(s)
		if len(branches) == 1 {
			return v, nil
		}
		out := make([]any, len(branches))
		out[0] = v // branches[0] is the first type: it is not null
		return out, nil
	case *avro.RecordSchema:
		m, _ := d.(map[string]any)
		out := make([]any, len(s.Fields()))
		for i, f := range s.Fields() {
			fd, ok := m[f.Name()]
			if !ok {
				fd = f.Default()
			}
			v, err := defaultOf(textcodec.JoinPath(path, f.Name()), f.Type(), fd)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *avro.ArraySchema:
		in, _ := d.([]any)
		out := make([]any, len(in))
		for i, x := range in {
			v, err := defaultOf(path+"[]", s.Items(), x)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *avro.MapSchema:
		m, _ := d.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			v, err := defaultOf(path+"{}", s.Values(), m[k])
			if err != nil {
				return nil, err
			}
			out[i] = []any{k, v}
		}
		return out, nil
	case *avro.EnumSchema:
		return d, nil
	case *avro.FixedSchema:
		rv := reflect.ValueOf(d)
		if rv.Kind() != reflect.Array && rv.Kind() != reflect.Slice {
			return nil, fmt.Errorf("not bytes: %T", d)
		}
		b := make([]byte, rv.Len())
		for i := range b {
			b[i] = byte(rv.Index(i).Uint())
		}
		if logicalOf(s) == avro.Decimal {
			return readDecimal(path, b, s.Logical())
		}
		return b, nil
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Null:
			return nil, nil
		case avro.Boolean, avro.String:
			return d, nil
		case avro.Int:
			i := reflect.ValueOf(d).Int()
			if logicalOf(s) == avro.Date {
				return int32(i), nil
			}
			return i, nil
		case avro.Long:
			return reflect.ValueOf(d).Int(), nil
		case avro.Float, avro.Double:
			return reflect.ValueOf(d).Float(), nil
		case avro.Bytes:
			b, _ := d.([]byte)
			if logicalOf(s) == avro.Decimal {
				return readDecimal(path, b, s.Logical())
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("a default of Avro type %s", s.Type())
}

func resolvePrimitive(path string, w, r *avro.PrimitiveSchema) (avroConv, error) {
	wt, rt := w.Type(), r.Type()
	if wt == rt {
		if err := sameLogical(path, w, r); err != nil {
			return nil, err
		}
		// int is int64 in the intermediate form, a date int32: a reader date from a
		// writer int (or back) converts.
		wDate, rDate := logicalOf(w) == avro.Date, logicalOf(r) == avro.Date
		switch {
		case wDate && !rDate:
			return func(v any) (any, error) { return int64(v.(int32)), nil }, nil
		case !wDate && rDate:
			return func(v any) (any, error) { return int32(v.(int64)), nil }, nil
		}
		return identityConv, nil
	}
	if logicalOf(r) != "" || logicalOf(w) == avro.Decimal || logicalOf(w) == avro.Date {
		return nil, mismatch(path, w, r)
	}
	switch {
	case wt == avro.Int && rt == avro.Long:
		return identityConv, nil // both int64 in the intermediate form
	case (wt == avro.Int || wt == avro.Long) && (rt == avro.Float || rt == avro.Double):
		return func(v any) (any, error) {
			if rt == avro.Float {
				return float64(float32(v.(int64))), nil
			}
			return float64(v.(int64)), nil
		}, nil
	case wt == avro.Float && rt == avro.Double:
		return identityConv, nil // float64 (of a float32) in the intermediate form
	case wt == avro.String && rt == avro.Bytes:
		return func(v any) (any, error) { return []byte(v.(string)), nil }, nil
	case wt == avro.Bytes && rt == avro.String:
		return func(v any) (any, error) {
			b := v.([]byte)
			if !utf8.Valid(b) {
				return nil, textcodec.FieldError(path, "bytes read as a string are not valid UTF-8")
			}
			return string(b), nil
		}, nil
	}
	return nil, mismatch(path, w, r)
}

// sameLogical refuses logical types whose values would change meaning: decimals of
// another precision or scale, timestamps of another unit.
func sameLogical(path string, w, r avro.Schema) error {
	wl, rl := logicalOf(w), logicalOf(r)
	if wl == rl && wl != avro.Decimal {
		return nil
	}
	if wl == avro.Decimal && rl == avro.Decimal {
		wd := w.(avro.LogicalTypeSchema).Logical().(*avro.DecimalLogicalSchema)
		rd := r.(avro.LogicalTypeSchema).Logical().(*avro.DecimalLogicalSchema)
		if wd.Scale() == rd.Scale() && wd.Precision() <= rd.Precision() {
			return nil
		}
	}
	if wl == "" || rl == "" {
		// A plain type read as a logical one of it, or back (a long as timestamp-millis):
		// the values are the same numbers.
		if wl != avro.Decimal && rl != avro.Decimal {
			return nil
		}
	}
	return textcodec.FieldError(path, "%s in the writer's schema, %s in the reader's", describe(w), describe(r))
}

func mismatch(path string, w, r avro.Schema) error {
	return textcodec.FieldError(path, "%s in the writer's schema, %s in the reader's (not resolvable)", describe(w), describe(r))
}

func describe(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return fmt.Sprintf("%s %s", s.Type(), n.FullName())
	}
	if lt := logicalOf(s); lt != "" {
		return fmt.Sprintf("%s (%s)", s.Type(), lt)
	}
	return string(s.Type())
}
