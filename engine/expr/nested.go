package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Functions of nested columns, as Polars' struct and list namespaces: a struct's field,
// a list's length, element, membership and joined text. Nested columns come from Kafka
// (JSON objects and arrays, Avro records, headers), NDJSON, Arrow tables and str.split.

func init() {
	Functions = append(Functions, "struct_field", "list_len", "list_get", "list_contains", "list_join")
}

// listValues is a list column of any of Arrow's list layouts: the element range of each
// row and the elements.
type listValues struct {
	arr    arrow.Array
	values arrow.Array
	bounds func(i int) (lo, hi int64)
}

func asList(a arrow.Array) (listValues, bool) {
	switch l := a.(type) {
	case *array.List:
		return listValues{a, l.ListValues(), func(i int) (int64, int64) { return l.ValueOffsets(i) }}, true
	case *array.LargeList:
		return listValues{a, l.ListValues(), func(i int) (int64, int64) { return l.ValueOffsets(i) }}, true
	case *array.FixedSizeList:
		n := int64(l.DataType().(*arrow.FixedSizeListType).Len())
		off := int64(l.Offset())
		return listValues{a, l.ListValues(), func(i int) (int64, int64) {
			return (off + int64(i)) * n, (off + int64(i) + 1) * n
		}}, true
	}
	return listValues{}, false
}

// listElem is the element type of a list type, or nil for another type.
func listElem(t arrow.DataType) arrow.DataType {
	if l, ok := t.(arrow.ListLikeType); ok && t.ID() != arrow.MAP {
		return l.Elem()
	}
	return nil
}

// compileNested compiles the functions of this file; ok is false for any other name.
func (s *CompileScope) compileNested(e *plan.Expr, args []Expr, text string) (out Expr, ok bool, err error) {
	mk := func(dt arrow.DataType, k kernelFn) (Expr, bool, error) {
		return &callExpr{name: e.Fn, args: args, dt: dt, kernel: k, text: text, own: ownText(e)}, true, nil
	}
	fail := func(kind rberr.Kind, format string, a ...any) (Expr, bool, error) {
		return nil, true, s.Errorf(kind, "%s: %s", text, fmt.Sprintf(format, a...))
	}
	describeArg := func(i int) string { return fmt.Sprintf("%s (%s)", args[i], TypeName(args[i].Type())) }
	pretty := strings.Replace(e.Fn, "_", ".", 1)
	n := 1
	if e.Fn == "list_contains" {
		n = 2
	}
	switch e.Fn {
	case "struct_field", "list_len", "list_get", "list_contains", "list_join":
		if len(args) != n {
			return nil, true, s.Errorf(rberr.Plan, "%s takes %d argument(s), got %d", e.Fn, n, len(args))
		}
	default:
		return nil, false, nil
	}
	if e.Fn == "struct_field" {
		st, isStruct := args[0].Type().(*arrow.StructType)
		if !isStruct {
			return fail(rberr.Type, "struct.field needs a struct column, got %s", describeArg(0))
		}
		name, _, err := optString(e.Options, "name")
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		idx, found := st.FieldIdx(name)
		if !found {
			names := make([]string, st.NumFields())
			for i, f := range st.Fields() {
				names[i] = fmt.Sprintf("%q", f.Name)
			}
			return fail(rberr.ColumnNotFound, "%s has no field %q; its fields are %s", args[0], name, strings.Join(names, ", "))
		}
		return mk(st.Field(idx).Type, unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
			return structField(ec.Mem, in.(*array.Struct), idx), nil
		}))
	}
	elem := listElem(args[0].Type())
	if elem == nil {
		return fail(rberr.Type, "%s needs a list column, got %s", pretty, describeArg(0))
	}
	switch e.Fn {
	case "list_len":
		return mk(arrow.PrimitiveTypes.Int32, unaryKernel(listLen))
	case "list_get":
		index, has, err := optInt(e.Options, "index")
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		if !has {
			return fail(rberr.InvalidArgument, "list.get needs an index")
		}
		nullOnOOB, _ := e.Options["null_on_oob"].(bool)
		return mk(elem, unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
			return listGet(ec, in, index, nullOnOOB)
		}))
	case "list_contains":
		ct, ok := CommonType(elem, args[1].Type())
		if !ok {
			return fail(rberr.Type, "list.contains: the item %s cannot be compared with the list's %s elements", describeArg(1), TypeName(elem))
		}
		return mk(arrow.FixedWidthTypes.Boolean, listContainsKernel(ct))
	default: // list_join
		if !IsString(elem) {
			return fail(rberr.Type, "list.join needs a list of strings, got %s", describeArg(0))
		}
		sep, _, err := optString(e.Options, "separator")
		if err != nil {
			return fail(rberr.InvalidArgument, "%v", err)
		}
		ignoreNulls, _ := e.Options["ignore_nulls"].(bool)
		return mk(arrow.BinaryTypes.String, unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
			return listJoin(ec, in, sep, ignoreNulls)
		}))
	}
}

// structField is field idx of s, null where s is null (Arrow keeps a child's own validity
// apart from its parent's).
func structField(mem memory.Allocator, s *array.Struct, idx int) arrow.Array {
	child := s.Field(idx)
	if s.NullN() == 0 {
		child.Retain()
		return child
	}
	d := child.Data()
	off, n := d.Offset(), d.Len()
	valid := memory.NewResizableBuffer(mem)
	valid.Resize(int(bitutil.BytesForBits(int64(off + n))))
	bits := valid.Bytes()
	nulls := 0
	for i := range n {
		ok := s.IsValid(i) && child.IsValid(i)
		bitutil.SetBitTo(bits, off+i, ok)
		if !ok {
			nulls++
		}
	}
	bufs := append([]*memory.Buffer{valid}, d.Buffers()[1:]...)
	nd := array.NewData(d.DataType(), n, bufs, d.Children(), nulls, off)
	if dict := d.Dictionary(); dict != nil {
		nd.SetDictionary(dict)
	}
	valid.Release()
	defer nd.Release()
	return array.MakeFromData(nd)
}

func listLen(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
	l, _ := asList(in)
	b := array.NewInt32Builder(ec.Mem)
	defer b.Release()
	b.Reserve(in.Len())
	for i := range in.Len() {
		if in.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		lo, hi := l.bounds(i)
		b.UnsafeAppend(int32(hi - lo))
	}
	return b.NewArray(), nil
}

// listGet takes element index of each list (from the end when negative): null for a
// null list, and for a list too short when nullOnOOB, else an error naming the row.
func listGet(ec *EvalCtx, in arrow.Array, index int64, nullOnOOB bool) (arrow.Array, error) {
	l, _ := asList(in)
	b := array.NewInt64Builder(ec.Mem)
	defer b.Release()
	b.Reserve(in.Len())
	for i := range in.Len() {
		if in.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		lo, hi := l.bounds(i)
		at := lo + index
		if index < 0 {
			at = hi + index
		}
		if at < lo || at >= hi {
			if nullOnOOB {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			return nil, rberr.New(rberr.Data, "list.get(%d): index out of bounds in row %d (a list of %d elements); pass null_on_oob=True to get null there", index, i, hi-lo)
		}
		b.UnsafeAppend(at)
	}
	idx := b.NewArray()
	defer idx.Release()
	return compute.TakeArray(ec.Ctx, l.values, idx)
}

// listContainsKernel: whether each list holds the item (of the row; a null item matches
// a null element, as Polars' nulls_equal); null for a null list. Elements and item are
// compared as type ct.
func listContainsKernel(ct arrow.DataType) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		in, xs, item, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer in.Release()
		defer item.Release()
		l, _ := asList(in)
		// The elements of the non-null lists, and beside each the item of its row,
		// compared in one call.
		elems, items, err := gatherElements(ec, l, in, item, ys)
		if err != nil {
			return nil, err
		}
		defer elems.Release()
		defer items.Release()
		ce, err := castDatum(ec, compute.NewDatum(elems), ct, "comparing the list's elements")
		if err != nil {
			return nil, err
		}
		defer ce.Release()
		cit, err := castDatum(ec, compute.NewDatum(items), ct, "comparing the item")
		if err != nil {
			return nil, err
		}
		defer cit.Release()
		eqd, err := compute.CallFunction(ec.Ctx, "equal", nil, ce, cit)
		if err != nil {
			return nil, err
		}
		eqa := eqd.(*compute.ArrayDatum).MakeArray()
		eqd.Release()
		defer eqa.Release()
		eq := eqa.(*array.Boolean)
		ea := ce.(*compute.ArrayDatum).MakeArray()
		defer ea.Release()
		ia := cit.(*compute.ArrayDatum).MakeArray()
		defer ia.Release()
		b := array.NewBooleanBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(in.Len())
		at := 0
		for i := range in.Len() {
			if in.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			lo, hi := l.bounds(i)
			found := false
			for j := at; j < at+int(hi-lo); j++ {
				if eq.IsValid(j) && eq.Value(j) || ea.IsNull(j) && ia.IsNull(j) {
					found = true
					break
				}
			}
			at += int(hi - lo)
			b.UnsafeAppend(found)
		}
		return wrapResult(b.NewArray(), xs && ys)
	}
}

// gatherElements is the elements of the non-null lists of in, in order, and beside each
// the value of item (one row when scalar) at its list's row.
func gatherElements(ec *EvalCtx, l listValues, in, item arrow.Array, scalar bool) (elems, items arrow.Array, err error) {
	idx := array.NewInt64Builder(ec.Mem)
	defer idx.Release()
	rows := array.NewInt64Builder(ec.Mem)
	defer rows.Release()
	for i := range in.Len() {
		if in.IsNull(i) {
			continue
		}
		lo, hi := l.bounds(i)
		r := int64(i)
		if scalar {
			r = 0
		}
		for j := lo; j < hi; j++ {
			idx.Append(j)
			rows.Append(r)
		}
	}
	ia, ra := idx.NewArray(), rows.NewArray()
	defer ia.Release()
	defer ra.Release()
	if elems, err = compute.TakeArray(ec.Ctx, l.values, ia); err != nil {
		return nil, nil, err
	}
	if items, err = compute.TakeArray(ec.Ctx, item, ra); err != nil {
		elems.Release()
		return nil, nil, err
	}
	return elems, items, nil
}

// listJoin joins each list of strings with sep: null for a null list, and for a list
// with a null element unless ignoreNulls (which skips them), as Polars.
func listJoin(ec *EvalCtx, in arrow.Array, sep string, ignoreNulls bool) (arrow.Array, error) {
	l, _ := asList(in)
	vals, err := castDatum(ec, compute.NewDatum(l.values), arrow.BinaryTypes.String, "joining the list's elements")
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	va := vals.(*compute.ArrayDatum).MakeArray()
	defer va.Release()
	strs := va.(*array.String)
	b := array.NewStringBuilder(ec.Mem)
	defer b.Release()
	var sb strings.Builder
	for i := range in.Len() {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		lo, hi := l.bounds(i)
		sb.Reset()
		null, first := false, true
		for j := lo; j < hi; j++ {
			if strs.IsNull(int(j)) {
				if ignoreNulls {
					continue
				}
				null = true
				break
			}
			if !first {
				sb.WriteString(sep)
			}
			first = false
			sb.WriteString(strs.Value(int(j)))
		}
		if null {
			b.AppendNull()
		} else {
			b.Append(sb.String())
		}
	}
	return b.NewArray(), nil
}
