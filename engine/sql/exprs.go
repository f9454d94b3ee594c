package sql

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// column is one column visible to expressions: its SQL qualifier and name, and the field
// of the plan node's output that holds it.
type column struct {
	qual, name string
	field      string
	typ        arrow.DataType
	owner      int  // index of the FROM item it came from (join planning)
	shadow     bool // a joined USING column: unqualified names prefer the merged one
	nostar     bool // left out of an unqualified * (a USING column's copies)
}

// scope resolves names to the columns of one relation.
type scope struct {
	cols []column
	// grouped queries: expressions equal to a GROUP BY key read the key's field, aggregate
	// calls read their field in the aggregate's output
	keys map[string]string
	aggs map[string]string
	// owners collects the FROM items referenced while translating (join planning)
	owners map[int]bool
	// what the expression is, for "aggregate not allowed in WHERE"
	clause string
}

func lit(v any, typ string) *plan.Expr {
	b, _ := json.Marshal(v)
	if f, ok := v.(float64); ok && f == 0 && math.Signbit(f) {
		b = []byte("-0.0") // JSON's -0 is the integer 0 to the Python layer the plan goes through
	}
	return &plan.Expr{Lit: b, Type: typ}
}

func colRef(name string) *plan.Expr { n := name; return &plan.Expr{Col: &n} }

func fn(name string, args ...*plan.Expr) *plan.Expr { return &plan.Expr{Fn: name, Args: args} }

func alias(e *plan.Expr, name string) *plan.Expr {
	n := name
	return &plan.Expr{Alias: &n, Args: []*plan.Expr{e}}
}

// canon is an expression's canonical text (for matching GROUP BY keys and aggregates).
func canon(e *plan.Expr) string {
	b, _ := json.Marshal(e)
	return string(b)
}

var aggregateNames = map[string]string{
	"COUNT": "count", "SUM": "sum", "AVG": "mean", "MIN": "min", "MAX": "max",
	"FIRST_VALUE": "first", "LAST_VALUE": "last",
}

func isAggregate(e Expr) bool {
	f, ok := e.(*FuncCall)
	if !ok || f.Over != nil {
		return false
	}
	_, ok = aggregateNames[f.Name]
	return ok
}

// fieldAccess reads an identifier as a struct column and the names of nested fields in
// it (as Flink SQL reads a ROW's fields): user.id, or e.user.geo.lat with a qualifier;
// ok is false when no prefix of it names a struct column.
func (s *scope) fieldAccess(id *Ident) (*plan.Expr, bool) {
	for k := min(2, len(id.Parts)-1); k >= 1; k-- {
		c, err := s.resolve(&Ident{At: id.At, Parts: id.Parts[:k]})
		if err != nil || c.typ == nil || c.typ.ID() != arrow.STRUCT {
			continue
		}
		x := colRef(c.field)
		for _, f := range id.Parts[k:] {
			x = &plan.Expr{Fn: "struct_field", Args: []*plan.Expr{x}, Options: map[string]any{"name": f}}
		}
		return x, true
	}
	return nil, false
}

// resolve finds the column an identifier names.
func (s *scope) resolve(id *Ident) (*column, error) {
	var qual, name string
	switch len(id.Parts) {
	case 1:
		name = id.Parts[0]
	case 2:
		qual, name = id.Parts[0], id.Parts[1]
	default:
		return nil, errorAt(id.P, "column reference %s has too many parts", strings.Join(id.Parts, "."))
	}
	find := func(fold bool) []*column {
		var out []*column
		eq := func(a, b string) bool {
			if fold {
				return strings.EqualFold(a, b)
			}
			return a == b
		}
		for i := range s.cols {
			c := &s.cols[i]
			if eq(c.name, name) && (qual == "" || eq(c.qual, qual)) {
				out = append(out, c)
			}
		}
		if len(out) > 1 && qual == "" {
			var kept []*column
			for _, c := range out {
				if !c.shadow {
					kept = append(kept, c)
				}
			}
			out = kept
		}
		return out
	}
	found := find(false)
	if len(found) == 0 {
		found = find(true)
	}
	switch {
	case len(found) == 1:
		if s.owners != nil {
			s.owners[found[0].owner] = true
		}
		return found[0], nil
	case len(found) > 1:
		var quals []string
		for _, c := range found {
			quals = append(quals, c.qual+"."+c.name)
		}
		return nil, errorKindAt(rberr.ColumnNotFound, id.P, "column %q is ambiguous: it could be %s; qualify it", name, strings.Join(quals, " or "))
	}
	var names []string
	for _, c := range s.cols {
		if qual == "" || strings.EqualFold(c.qual, qual) {
			names = append(names, c.name)
		}
	}
	what := name
	if qual != "" {
		what = qual + "." + name
		known := false
		for _, c := range s.cols {
			if strings.EqualFold(c.qual, qual) {
				known = true
			}
		}
		if !known {
			var quals []string
			for _, c := range s.cols {
				if c.qual != "" {
					quals = append(quals, c.qual)
				}
			}
			msg := fmt.Sprintf("no table or alias %q in this query", qual)
			if sg := plan.Suggest(qual, quals); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			return nil, errorKindAt(rberr.ColumnNotFound, id.P, "%s", msg)
		}
	}
	msg := fmt.Sprintf("no column %q", what)
	if sg := plan.Suggest(name, names); sg != "" {
		msg += fmt.Sprintf("; did you mean %q?", sg)
	} else if len(names) <= 12 {
		msg += fmt.Sprintf("; the columns are %s", strings.Join(names, ", "))
	}
	return nil, errorKindAt(rberr.ColumnNotFound, id.P, "%s", msg)
}

// expr translates a SQL expression into a plan expression over the scope.
func (pl *planner) expr(e Expr, s *scope) (*plan.Expr, error) {
	if s.keys != nil || s.aggs != nil {
		if isAggregate(e) {
			a, err := pl.aggCall(e.(*FuncCall), &scope{cols: s.cols, clause: "an aggregate's argument"})
			if err != nil {
				return nil, err
			}
			if f, ok := s.aggs[canon(a)]; ok {
				return colRef(f), nil
			}
			return nil, errorAt(e.Position(), "internal: aggregate not collected")
		}
		if len(s.keys) > 0 {
			plain := &scope{cols: s.cols, clause: s.clause}
			if pe, err := pl.expr(e, plain); err == nil {
				if f, ok := s.keys[canon(pe)]; ok {
					return colRef(f), nil
				}
			}
		}
		if id, ok := e.(*Ident); ok {
			c, err := s.resolve(id)
			if err != nil {
				return nil, err
			}
			return nil, errorAt(id.P, "column %q must appear in GROUP BY or be used in an aggregate function", c.name)
		}
	}
	return pl.expr1(e, s)
}

func (pl *planner) expr1(e Expr, s *scope) (*plan.Expr, error) {
	switch e := e.(type) {
	case *Ident:
		c, err := s.resolve(e)
		if err == nil {
			return colRef(c.field), nil
		}
		if x, ok := s.fieldAccess(e); ok {
			return x, nil
		}
		return nil, err
	case *Literal:
		return literal(e)
	case *Unary:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "not":
			return fn("not", x), nil
		case "-":
			return fn("neg", x), nil
		}
		return x, nil
	case *Binary:
		if folded, ok, err := foldDate(e); ok || err != nil {
			return folded, err
		}
		l, err := pl.expr(e.L, s)
		if err != nil {
			return nil, err
		}
		r, err := pl.expr(e.R, s)
		if err != nil {
			return nil, err
		}
		if e.Op == "||" {
			x := fn("concat_str", l, r)
			x.Options = map[string]any{"separator": ""}
			return x, nil
		}
		name, ok := binaryFns[e.Op]
		if !ok {
			return nil, unsupported(e.P, "operator "+e.Op)
		}
		return fn(name, l, r), nil
	case *FuncCall:
		if isAggregate(e) {
			return nil, errorAt(e.P, "aggregate function %s is not allowed %s", e.Name, clauseOf(s))
		}
		return pl.scalarCall(e, s)
	case *Cast:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		t, err := typeOf(e.Type)
		if err != nil {
			return nil, err
		}
		return &plan.Expr{Cast: t, Args: []*plan.Expr{x}}, nil
	case *Case:
		var args []*plan.Expr
		var operand *plan.Expr
		if e.Operand != nil {
			o, err := pl.expr(e.Operand, s)
			if err != nil {
				return nil, err
			}
			operand = o
		}
		for _, w := range e.Whens {
			c, err := pl.expr(w.Cond, s)
			if err != nil {
				return nil, err
			}
			if operand != nil {
				c = fn("eq", operand, c)
			}
			v, err := pl.expr(w.Then, s)
			if err != nil {
				return nil, err
			}
			args = append(args, c, v)
		}
		if e.Else != nil {
			v, err := pl.expr(e.Else, s)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		return fn("case_when", args...), nil
	case *InList:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		allLit := true
		var vals []*plan.Expr
		for _, v := range e.List {
			if _, ok := v.(*Literal); !ok {
				allLit = false
			}
			pv, err := pl.expr(v, s)
			if err != nil {
				return nil, err
			}
			vals = append(vals, pv)
		}
		var out *plan.Expr
		if allLit {
			// SQL: x IN (..., NULL, ...) is TRUE when x is listed, else NULL (never FALSE);
			// the engine's is_in ignores nulls in its list, so they are taken out here and
			// a FALSE made NULL.
			var known []*plan.Expr
			hasNull := false
			for i, v := range e.List {
				if v.(*Literal).Kind == LitNull {
					hasNull = true
				} else {
					known = append(known, vals[i])
				}
			}
			switch {
			case len(known) == 0:
				out = lit(nil, "bool")
			case hasNull:
				out = fn("case_when", fn("is_in", append([]*plan.Expr{x}, known...)...), lit(true, "bool"))
			default:
				out = fn("is_in", append([]*plan.Expr{x}, known...)...)
			}
		} else { // eq gives NULL for a NULL operand and OR is three-valued
			for _, v := range vals {
				eq := fn("eq", x, v)
				if out == nil {
					out = eq
				} else {
					out = fn("or", out, eq)
				}
			}
		}
		if e.Not {
			out = fn("not", out)
		}
		return out, nil
	case *Between:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		lo, err := pl.expr(e.Lo, s)
		if err != nil {
			return nil, err
		}
		hi, err := pl.expr(e.Hi, s)
		if err != nil {
			return nil, err
		}
		out := fn("and", fn("ge", x, lo), fn("le", x, hi))
		if e.Not {
			out = fn("not", out)
		}
		return out, nil
	case *Like:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		pat, ok := e.Pattern.(*Literal)
		if !ok || pat.Kind != LitString {
			return nil, unsupported(e.Pattern.Position(), "a LIKE pattern that is not a string literal")
		}
		out, err := likeExpr(x, pat.Text, e.Escape, e.P)
		if err != nil {
			return nil, err
		}
		if e.Not {
			out = fn("not", out)
		}
		return out, nil
	case *IsNull:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		if e.Not {
			return fn("is_not_null", x), nil
		}
		return fn("is_null", x), nil
	case *IsDistinct:
		l, err := pl.expr(e.L, s)
		if err != nil {
			return nil, err
		}
		r, err := pl.expr(e.R, s)
		if err != nil {
			return nil, err
		}
		// l = r where both are known, else whether both are NULL: never NULL itself
		same := fn("fill_null", fn("eq", l, r), fn("and", fn("is_null", l), fn("is_null", r)))
		if e.Not {
			return same, nil
		}
		return fn("not", same), nil
	case *IsBool:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		if !e.Value {
			x = fn("not", x)
		}
		out := fn("fill_null", x, lit(false, "bool"))
		if e.Not {
			out = fn("not", out)
		}
		return out, nil
	case *Extract:
		x, err := pl.expr(e.X, s)
		if err != nil {
			return nil, err
		}
		name, ok := extractFns[e.Field]
		if !ok {
			return nil, unsupported(e.P, "EXTRACT("+e.Field+" FROM ...)")
		}
		return fn(name, x), nil
	// Subqueries are planned as joins before their expression is translated (subquery.go),
	// in WHERE, HAVING and the SELECT list; anywhere else they are refused.
	case *Subquery:
		return nil, unsupported(e.P, "a scalar subquery "+clauseOf(s)+" (only in WHERE, HAVING and the SELECT list)")
	case *InSubquery:
		return nil, unsupported(e.P, "IN (subquery) "+clauseOf(s)+" (only in WHERE, HAVING and the SELECT list)")
	case *Exists:
		return nil, unsupported(e.P, "EXISTS "+clauseOf(s)+" (only in WHERE, HAVING and the SELECT list)")
	}
	return nil, errorAt(e.Position(), "unexpected expression")
}

// clauseOf names where an expression is, for errors: "in ORDER BY".
func clauseOf(s *scope) string {
	if s.clause == "" {
		return "here"
	}
	return "in " + s.clause
}

var binaryFns = map[string]string{
	"and": "and", "or": "or", "=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
	"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod",
}

var extractFns = map[string]string{
	"YEAR": "dt_year", "MONTH": "dt_month", "DAY": "dt_day", "HOUR": "dt_hour", "MINUTE": "dt_minute",
	"SECOND": "dt_second", "QUARTER": "dt_quarter", "DOY": "dt_ordinal_day", "DAYOFMONTH": "dt_day",
}

// aggCall translates an aggregate call into a plan aggregation.
func (pl *planner) aggCall(f *FuncCall, s *scope) (*plan.Expr, error) {
	name := aggregateNames[f.Name]
	if f.Star {
		if f.Name != "COUNT" {
			return nil, errorAt(f.P, "%s(*) is not valid; only COUNT(*)", f.Name)
		}
		return &plan.Expr{Agg: "count"}, nil
	}
	if len(f.Args) != 1 {
		return nil, errorAt(f.P, "%s takes one argument, got %d", f.Name, len(f.Args))
	}
	for _, a := range f.Args {
		if containsAggregate(a) {
			return nil, errorAt(a.Position(), "aggregate functions cannot be nested")
		}
	}
	x, err := pl.expr1(f.Args[0], s)
	if err != nil {
		return nil, err
	}
	if f.Distinct {
		switch f.Name {
		case "COUNT":
			name = "n_unique"
		case "MIN", "MAX":
		default:
			return nil, unsupported(f.P, f.Name+"(DISTINCT ...)")
		}
	}
	if name == "count" {
		// COUNT(x) counts the non-null values of x.
		return &plan.Expr{Agg: "count", Args: []*plan.Expr{x}}, nil
	}
	return &plan.Expr{Agg: name, Args: []*plan.Expr{x}}, nil
}

func containsAggregate(e Expr) bool {
	found := false
	walkExpr(e, func(x Expr) bool {
		if isAggregate(x) {
			found = true
			return false
		}
		return true
	})
	return found
}

// walkExpr visits e and its sub-expressions (not those inside subqueries) until visit
// returns false for a node (its children are then skipped).
func walkExpr(e Expr, visit func(Expr) bool) {
	if e == nil || !visit(e) {
		return
	}
	switch e := e.(type) {
	case *Unary:
		walkExpr(e.X, visit)
	case *Binary:
		walkExpr(e.L, visit)
		walkExpr(e.R, visit)
	case *FuncCall:
		for _, a := range e.Args {
			walkExpr(a, visit)
		}
	case *Cast:
		walkExpr(e.X, visit)
	case *Case:
		walkExpr(e.Operand, visit)
		for _, w := range e.Whens {
			walkExpr(w.Cond, visit)
			walkExpr(w.Then, visit)
		}
		walkExpr(e.Else, visit)
	case *InList:
		walkExpr(e.X, visit)
		for _, v := range e.List {
			walkExpr(v, visit)
		}
	case *InSubquery:
		walkExpr(e.X, visit)
	case *Between:
		walkExpr(e.X, visit)
		walkExpr(e.Lo, visit)
		walkExpr(e.Hi, visit)
	case *Like:
		walkExpr(e.X, visit)
		walkExpr(e.Pattern, visit)
	case *IsNull:
		walkExpr(e.X, visit)
	case *IsBool:
		walkExpr(e.X, visit)
	case *IsDistinct:
		walkExpr(e.L, visit)
		walkExpr(e.R, visit)
	case *Extract:
		walkExpr(e.X, visit)
	}
}

func (pl *planner) args(f *FuncCall, s *scope, min, max int) ([]*plan.Expr, error) {
	if f.Star || f.Distinct {
		return nil, errorAt(f.P, "%s takes no * or DISTINCT", f.Name)
	}
	if len(f.Args) < min || max >= 0 && len(f.Args) > max {
		want := strconv.Itoa(min)
		if max != min {
			if max < 0 {
				want = "at least " + want
			} else {
				want += " to " + strconv.Itoa(max)
			}
		}
		return nil, errorAt(f.P, "%s takes %s arguments, got %d", f.Name, want, len(f.Args))
	}
	out := make([]*plan.Expr, len(f.Args))
	for i, a := range f.Args {
		x, err := pl.expr(a, s)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// intArg reads an integer literal argument.
func intArg(e Expr, what string) (int64, error) {
	l, ok := e.(*Literal)
	if !ok || l.Kind != LitInt {
		return 0, unsupported(e.Position(), what+" that is not an integer literal")
	}
	return strconv.ParseInt(l.Text, 10, 64)
}

func strArg(e Expr, what string) (string, error) {
	l, ok := e.(*Literal)
	if !ok || l.Kind != LitString {
		return "", unsupported(e.Position(), what+" that is not a string literal")
	}
	return l.Text, nil
}

var simpleFns = map[string]struct {
	fn       string
	min, max int
}{
	"UPPER": {"str_upper", 1, 1}, "LOWER": {"str_lower", 1, 1},
	"CHAR_LENGTH": {"str_len_chars", 1, 1}, "CHARACTER_LENGTH": {"str_len_chars", 1, 1}, "LENGTH": {"str_len_chars", 1, 1},
	"ABS": {"abs", 1, 1}, "SQRT": {"sqrt", 1, 1}, "EXP": {"exp", 1, 1}, "LN": {"log", 1, 1}, "LOG10": {"log10", 1, 1},
	"POWER": {"pow", 2, 2}, "POW": {"pow", 2, 2}, "FLOOR": {"floor", 1, 1}, "CEIL": {"ceil", 1, 1}, "CEILING": {"ceil", 1, 1},
	"SIGN": {"sign", 1, 1}, "MOD": {"mod", 2, 2}, "CARDINALITY": {"list_len", 1, 1},
	"YEAR": {"dt_year", 1, 1}, "MONTH": {"dt_month", 1, 1}, "DAYOFMONTH": {"dt_day", 1, 1}, "HOUR": {"dt_hour", 1, 1},
	"MINUTE": {"dt_minute", 1, 1}, "SECOND": {"dt_second", 1, 1}, "QUARTER": {"dt_quarter", 1, 1},
	"DAYOFYEAR": {"dt_ordinal_day", 1, 1},
	"SIN":       {"sin", 1, 1}, "COS": {"cos", 1, 1}, "TAN": {"tan", 1, 1}, "COT": {"cot", 1, 1},
	"ASIN": {"arcsin", 1, 1}, "ACOS": {"arccos", 1, 1}, "ATAN": {"arctan", 1, 1},
	"SINH": {"sinh", 1, 1}, "COSH": {"cosh", 1, 1}, "TANH": {"tanh", 1, 1},
	"DEGREES": {"degrees", 1, 1}, "RADIANS": {"radians", 1, 1}, "CBRT": {"cbrt", 1, 1},
}

func (pl *planner) scalarCall(f *FuncCall, s *scope) (*plan.Expr, error) {
	if f.Over != nil {
		return pl.overCall(f, s)
	}
	if sf, ok := simpleFns[f.Name]; ok {
		args, err := pl.args(f, s, sf.min, sf.max)
		if err != nil {
			return nil, err
		}
		return fn(sf.fn, args...), nil
	}
	switch f.Name {
	case "SUBSTRING", "SUBSTR":
		args, err := pl.args(f, s, 2, 3)
		if err != nil {
			return nil, err
		}
		start, err := intArg(f.Args[1], "a SUBSTRING start")
		if err != nil {
			return nil, err
		}
		// Flink's positions: 1 is the first character, -1 the last, 0 the first too; a
		// negative start before the first character gives "", a negative length null.
		slice := func(offset int64) *plan.Expr {
			x := fn("str_slice", args[0])
			x.Options = map[string]any{"offset": offset}
			return x
		}
		x := slice(max(start-1, 0))
		if start < 0 {
			x = slice(start)
		}
		if len(f.Args) == 3 {
			n, err := intArg(f.Args[2], "a SUBSTRING length")
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return fn("case_when", lit(false, "bool"), args[0]), nil // null, of the string's type
			}
			x.Options["length"] = n
		}
		if start < 0 {
			empty := slice(0)
			empty.Options["length"] = 0 // "" (null for a null string)
			return fn("case_when", fn("ge", fn("str_len_chars", args[0]), lit(-start, "int64")), x, empty), nil
		}
		return x, nil
	case "TRIM", "LTRIM", "RTRIM", "BTRIM":
		args, err := pl.args(f, s, 1, 2)
		if err != nil {
			return nil, err
		}
		name := map[string]string{"TRIM": "str_strip_chars", "BTRIM": "str_strip_chars", "LTRIM": "str_strip_chars_start", "RTRIM": "str_strip_chars_end"}[f.Name]
		x := fn(name, args[0])
		if len(f.Args) == 2 {
			chars, err := strArg(f.Args[1], "a TRIM character set")
			if err != nil {
				return nil, err
			}
			x.Options = map[string]any{"characters": chars}
		} else {
			x.Options = map[string]any{"characters": " "}
		}
		return x, nil
	case "REPLACE":
		args, err := pl.args(f, s, 3, 3)
		if err != nil {
			return nil, err
		}
		from, err := strArg(f.Args[1], "a REPLACE search string")
		if err != nil {
			return nil, err
		}
		to, err := strArg(f.Args[2], "a REPLACE replacement")
		if err != nil {
			return nil, err
		}
		if from == "" {
			return args[0], nil // an empty search string matches nothing (SQL; Polars inserts between characters)
		}
		x := fn("str_replace", args[0])
		x.Options = map[string]any{"pattern": from, "value": to, "literal": true, "n": -1}
		return x, nil
	case "CONCAT", "CONCAT_WS":
		sep := ""
		rest := f.Args
		if f.Name == "CONCAT_WS" {
			if len(f.Args) < 2 {
				return nil, errorAt(f.P, "CONCAT_WS takes a separator and at least one value")
			}
			var err error
			if sep, err = strArg(f.Args[0], "a CONCAT_WS separator"); err != nil {
				return nil, err
			}
			rest = f.Args[1:]
		}
		if len(rest) == 0 {
			return nil, errorAt(f.P, "%s takes at least one value", f.Name)
		}
		var args []*plan.Expr
		for _, a := range rest {
			x, err := pl.expr(a, s)
			if err != nil {
				return nil, err
			}
			args = append(args, x)
		}
		x := fn("concat_str", args...)
		x.Options = map[string]any{"separator": sep, "ignore_nulls": f.Name == "CONCAT_WS"}
		return x, nil
	case "ROUND":
		args, err := pl.args(f, s, 1, 2)
		if err != nil {
			return nil, err
		}
		x := fn("round", args[0])
		x.Options = map[string]any{"mode": "half_away_from_zero"} // SQL's (Flink's HALF_UP)
		if len(f.Args) == 2 {
			d, err := intArg(f.Args[1], "a ROUND precision")
			if err != nil {
				return nil, err
			}
			x.Options["decimals"] = d
		}
		return x, nil
	case "COALESCE", "IFNULL":
		args, err := pl.args(f, s, 1, -1)
		if err != nil {
			return nil, err
		}
		if f.Name == "IFNULL" && len(args) != 2 {
			return nil, errorAt(f.P, "IFNULL takes 2 arguments, got %d", len(args))
		}
		return coalesce(args), nil
	case "NULLIF":
		args, err := pl.args(f, s, 2, 2)
		if err != nil {
			return nil, err
		}
		return fn("case_when", fn("eq", args[0], args[1]), lit(nil, "null"), args[0]), nil
	case "DATE_FORMAT":
		args, err := pl.args(f, s, 2, 2)
		if err != nil {
			return nil, err
		}
		format, err := strArg(f.Args[1], "a DATE_FORMAT format")
		if err != nil {
			return nil, err
		}
		return dateFormat(args[0], format, f.Args[1].Position())
	case "REGEXP_EXTRACT":
		args, err := pl.args(f, s, 2, 3)
		if err != nil {
			return nil, err
		}
		pattern, err := strArg(f.Args[1], "a REGEXP_EXTRACT pattern")
		if err != nil {
			return nil, err
		}
		group := int64(1)
		if len(f.Args) == 3 {
			if group, err = intArg(f.Args[2], "a REGEXP_EXTRACT group"); err != nil {
				return nil, err
			}
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, errorAt(f.Args[1].Position(), "invalid regular expression %q: %v", pattern, err)
		}
		if group < 0 || group > int64(re.NumSubexp()) {
			at := f.P
			if len(f.Args) == 3 {
				at = f.Args[2].Position()
			}
			return nil, errorAt(at, "REGEXP_EXTRACT group %d: the pattern has %d groups", group, re.NumSubexp())
		}
		return regexpExtract(args[0], pattern, group), nil
	case "SPLIT_INDEX":
		args, err := pl.args(f, s, 3, 3)
		if err != nil {
			return nil, err
		}
		sep, err := strArg(f.Args[1], "a SPLIT_INDEX separator")
		if err != nil {
			return nil, err
		}
		if sep == "" {
			return nil, errorAt(f.Args[1].Position(), "SPLIT_INDEX needs a non-empty separator")
		}
		idx, err := intArg(f.Args[2], "a SPLIT_INDEX index")
		if err != nil {
			return nil, err
		}
		return splitIndex(args[0], sep, idx), nil
	}
	known := []string{"SUBSTRING", "TRIM", "DATE_FORMAT", "REGEXP_EXTRACT", "SPLIT_INDEX", "REPLACE", "CONCAT", "CONCAT_WS", "ROUND", "COALESCE", "IFNULL", "NULLIF", "COUNT", "SUM", "AVG", "MIN", "MAX"}
	for k := range simpleFns {
		known = append(known, k)
	}
	msg := fmt.Sprintf("unknown function %s", f.Name)
	if sg := plan.Suggest(f.Name, known); sg != "" {
		msg += fmt.Sprintf("; did you mean %s?", sg)
	}
	return nil, errorAt(f.P, "%s (docs/sql.md lists the functions)", msg)
}

// coalesce is the first of args not NULL: fill_null, which is associative, over a balanced
// tree (a chain of hundreds of arguments would nest the plan as deep).
func coalesce(args []*plan.Expr) *plan.Expr {
	if len(args) == 1 {
		return args[0]
	}
	h := len(args) / 2
	return fn("fill_null", coalesce(args[:h]), coalesce(args[h:]))
}

// likeExpr compiles x LIKE pattern: prefix, suffix and substring patterns use the
// string kernels; others a regular expression anchored at both ends.
func likeExpr(x *plan.Expr, pattern, escape string, at Pos) (*plan.Expr, error) {
	var esc rune = -1
	if escape != "" {
		if len([]rune(escape)) != 1 {
			return nil, errorAt(at, "ESCAPE takes one character, got %q", escape)
		}
		esc = []rune(escape)[0]
	}
	type piece struct {
		wild    rune // '%', '_' or 0 for text
		literal string
	}
	var parts []piece
	var cur strings.Builder
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == esc && i+1 == len(rs):
			return nil, errorAt(at, "the LIKE pattern %q ends with its escape character %q, which escapes nothing", pattern, string(esc))
		case r == esc:
			i++
			cur.WriteRune(rs[i])
		case r == '%' || r == '_':
			if cur.Len() > 0 {
				parts = append(parts, piece{literal: cur.String()})
				cur.Reset()
			}
			parts = append(parts, piece{wild: r})
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		parts = append(parts, piece{literal: cur.String()})
	}
	opt := func(name, p string, literal bool) *plan.Expr {
		e := fn(name, x)
		e.Options = map[string]any{"pattern": p}
		if literal {
			e.Options["literal"] = true
		}
		return e
	}
	switch {
	case len(parts) == 0:
		return fn("eq", x, lit("", "utf8")), nil
	case len(parts) == 1 && parts[0].wild == 0:
		return fn("eq", x, lit(parts[0].literal, "utf8")), nil
	case len(parts) == 1 && parts[0].wild == '%':
		// TRUE for every string, NULL (not FALSE) for NULL
		return fn("case_when", fn("is_not_null", x), lit(true, "bool")), nil
	case len(parts) == 2 && parts[0].wild == 0 && parts[1].wild == '%':
		return opt("str_starts_with", parts[0].literal, false), nil
	case len(parts) == 2 && parts[0].wild == '%' && parts[1].wild == 0:
		return opt("str_ends_with", parts[1].literal, false), nil
	case len(parts) == 3 && parts[0].wild == '%' && parts[1].wild == 0 && parts[2].wild == '%':
		return opt("str_contains", parts[1].literal, true), nil
	}
	var re strings.Builder
	re.WriteString("(?s)^")
	for _, p := range parts {
		switch p.wild {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(p.literal))
		}
	}
	re.WriteString("$")
	return opt("str_contains", re.String(), false), nil
}

// literal translates a constant.
func literal(l *Literal) (*plan.Expr, error) {
	switch l.Kind {
	case LitInt:
		n, err := strconv.ParseInt(l.Text, 10, 64)
		if err != nil {
			// too large for int64: a decimal, as SQL
			return decimalLit(l)
		}
		return lit(n, "int64"), nil
	case LitDecimal:
		return decimalLit(l)
	case LitFloat:
		f, err := strconv.ParseFloat(l.Text, 64)
		if err != nil {
			return nil, errorAt(l.P, "bad number %s", l.Text)
		}
		return lit(f, "float64"), nil
	case LitString:
		return lit(l.Text, "utf8"), nil
	case LitBool:
		return lit(l.Text == "TRUE", "bool"), nil
	case LitNull:
		return lit(nil, "null"), nil
	case LitDate:
		d, err := parseDate(l)
		if err != nil {
			return nil, err
		}
		return lit(d, "date32"), nil
	case LitTimestamp:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, strings.TrimSpace(l.Text)); err == nil {
				return lit(t.UnixMicro(), "timestamp[us]"), nil
			}
		}
		return nil, errorAt(l.P, "bad TIMESTAMP literal '%s' (expected 'yyyy-mm-dd hh:mm:ss[.fff]')", l.Text)
	case LitInterval:
		us, err := intervalMicros(l)
		if err != nil {
			return nil, err
		}
		return lit(us, "duration[us]"), nil
	}
	return nil, errorAt(l.P, "unexpected literal")
}

func decimalLit(l *Literal) (*plan.Expr, error) {
	text := strings.TrimPrefix(l.Text, "-")
	digits := strings.Replace(text, ".", "", 1)
	digits = strings.TrimLeft(digits, "0")
	scale := 0
	if i := strings.IndexByte(text, '.'); i >= 0 {
		scale = len(text) - i - 1
	}
	prec := len(digits)
	if prec < scale {
		prec = scale
	}
	if prec < 1 {
		prec = 1
	}
	if prec > 38 {
		return nil, errorAt(l.P, "the number %s has more than 38 digits", l.Text)
	}
	if _, ok := new(big.Float).SetString(l.Text); !ok {
		return nil, errorAt(l.P, "bad number %s", l.Text)
	}
	return lit(l.Text, fmt.Sprintf("decimal128(%d, %d)", prec, scale)), nil
}

func parseDate(l *Literal) (int64, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(l.Text))
	if err != nil {
		return 0, errorAt(l.P, "bad DATE literal '%s' (expected 'yyyy-mm-dd')", l.Text)
	}
	return t.Unix() / 86400, nil
}

var unitMicros = map[string]int64{
	"MICROSECOND": 1, "MILLISECOND": 1000, "SECOND": 1_000_000, "MINUTE": 60_000_000,
	"HOUR": 3_600_000_000, "DAY": 86_400_000_000, "WEEK": 7 * 86_400_000_000,
}

// intervalMicros is a day-time interval in microseconds.
func intervalMicros(l *Literal) (int64, error) {
	u, ok := unitMicros[l.Unit]
	if !ok {
		return 0, unsupported(l.P, "an INTERVAL of "+l.Unit+"S outside date arithmetic with a DATE literal")
	}
	f, err := strconv.ParseFloat(l.Text, 64)
	if err != nil {
		return 0, errorAt(l.P, "bad interval value '%s'", l.Text)
	}
	return int64(f * float64(u)), nil
}

// intervalDuration is a day-time interval as a plan duration string ("10s").
func intervalDuration(e Expr) (string, error) {
	l, ok := e.(*Literal)
	if !ok || l.Kind != LitInterval {
		return "", errorAt(e.Position(), "expected an INTERVAL literal, such as INTERVAL '10' SECOND")
	}
	us, err := intervalMicros(l)
	if err != nil {
		return "", err
	}
	if us <= 0 {
		return "", errorAt(l.P, "the interval must be positive")
	}
	return fmt.Sprintf("%dus", us), nil
}

// foldDate computes DATE 'x' ± INTERVAL 'n' unit (days, weeks, months, years) as a date.
func foldDate(b *Binary) (*plan.Expr, bool, error) {
	if b.Op != "+" && b.Op != "-" {
		return nil, false, nil
	}
	d, ok1 := b.L.(*Literal)
	iv, ok2 := b.R.(*Literal)
	if !ok1 || !ok2 || d.Kind != LitDate || iv.Kind != LitInterval {
		return nil, false, nil
	}
	days, err := parseDate(d)
	if err != nil {
		return nil, true, err
	}
	n, err := strconv.Atoi(iv.Text)
	if err != nil {
		return nil, true, errorAt(iv.P, "a date interval needs a whole number, got '%s'", iv.Text)
	}
	if b.Op == "-" {
		n = -n
	}
	t := time.Unix(days*86400, 0).UTC()
	switch iv.Unit {
	case "DAY":
		t = t.AddDate(0, 0, n)
	case "WEEK":
		t = t.AddDate(0, 0, 7*n)
	case "MONTH", "YEAR":
		months := n
		if iv.Unit == "YEAR" {
			months = 12 * n
		}
		y, m, dd := t.Date()
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, months, 0)
		last := first.AddDate(0, 1, -1).Day()
		if dd > last { // SQL clamps to the month's last day
			dd = last
		}
		t = time.Date(first.Year(), first.Month(), dd, 0, 0, 0, 0, time.UTC)
	default:
		return nil, false, nil
	}
	return lit(t.Unix()/86400, "date32"), true, nil
}

// typeOf maps a SQL type to a plan type name.
func typeOf(t *TypeName) (string, error) {
	p := func(i, def int) int {
		if i < len(t.Params) {
			return t.Params[i]
		}
		return def
	}
	switch t.Name {
	case "TINYINT":
		return "int8", nil
	case "SMALLINT":
		return "int16", nil
	case "INT", "INTEGER":
		return "int32", nil
	case "BIGINT":
		return "int64", nil
	case "FLOAT", "REAL":
		return "float32", nil
	case "DOUBLE":
		return "float64", nil
	case "DECIMAL", "DEC", "NUMERIC":
		return fmt.Sprintf("decimal128(%d, %d)", p(0, 10), p(1, 0)), nil
	case "VARCHAR", "STRING", "CHAR", "TEXT":
		return "utf8", nil
	case "BOOLEAN", "BOOL":
		return "bool", nil
	case "DATE":
		return "date32", nil
	case "BYTES", "VARBINARY", "BINARY":
		return "binary", nil
	case "TIMESTAMP", "TIMESTAMP_LTZ":
		unit := "us"
		switch prec := p(0, 6); {
		case prec == 0:
			unit = "s"
		case prec <= 3:
			unit = "ms"
		case prec <= 6:
			unit = "us"
		default:
			unit = "ns"
		}
		if t.Name == "TIMESTAMP_LTZ" {
			return "timestamp[" + unit + ", tz=UTC]", nil
		}
		return "timestamp[" + unit + "]", nil
	}
	return "", unsupported(t.P, "the type "+t.Name)
}

// regexpExtract is Flink's REGEXP_EXTRACT(s, pattern, group): the group of the first match
// of pattern in s (RE2 syntax), NULL when nothing matches, the group takes no part in the
// match, or s is NULL: the engine's str_extract.
func regexpExtract(x *plan.Expr, pattern string, group int64) *plan.Expr {
	e := fn("str_extract", x)
	e.Options = map[string]any{"pattern": pattern, "group_index": group}
	return e
}

// splitIndex is Flink's SPLIT_INDEX(s, sep, i): the i-th (from 0) piece of s split at the
// text sep, NULL when s has fewer pieces or i is negative (the engine's str_split_index).
func splitIndex(x *plan.Expr, sep string, idx int64) *plan.Expr {
	e := fn("str_split_index", x)
	e.Options = map[string]any{"by": sep, "index": idx}
	return e
}

// dateFormat is Flink's DATE_FORMAT(ts, format) with a Java date pattern, translated into
// the strftime format of dt_strftime: y (yy: two digits), M (MMM, MMMM: the month's name),
// d, D, H, h, m, s, S (SSS, SSSSSS, SSSSSSSSS: the fraction), E (EEEE: the full name), a;
// one letter is not padded, two are; 'quoted text' and other characters as they are.
// Calendar fields of ts in its time zone (UTC when it has none); NULL for a NULL ts.
func dateFormat(x *plan.Expr, format string, at Pos) (*plan.Expr, error) {
	var out strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(format[i+1:], '\'')
			if j < 0 {
				return nil, errorAt(at, "DATE_FORMAT format %q has an unclosed quote", format)
			}
			if j == 0 {
				out.WriteByte('\'') // '' is a quote
			}
			out.WriteString(strings.ReplaceAll(format[i+1:i+1+j], "%", "%%"))
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(format) && format[j] == c {
				j++
			}
			n := j - i
			num := func(code string) string {
				if n == 1 {
					return "%-" + code
				}
				return "%" + code
			}
			var d string
			switch {
			case c == 'y' && n == 2:
				d = "%y"
			case c == 'y':
				d = "%Y"
			case c == 'M' && n <= 2:
				d = num("m")
			case c == 'M' && n == 3:
				d = "%b"
			case c == 'M':
				d = "%B"
			case c == 'D' && (n == 1 || n == 3):
				d = num("j")
			case strings.IndexByte("dHhms", c) >= 0 && n <= 2:
				d = num(map[byte]string{'d': "d", 'H': "H", 'h': "I", 'm': "M", 's': "S"}[c])
			case c == 'S' && (n == 3 || n == 6 || n == 9):
				d = "%" + strconv.Itoa(n) + "f"
			case c == 'E' && n <= 3:
				d = "%a"
			case c == 'E':
				d = "%A"
			case c == 'a' && n == 1:
				d = "%p"
			default:
				return nil, unsupported(at, fmt.Sprintf("DATE_FORMAT pattern %q (y, M, d, D, H, h, m, s, S, E and a are)", format[i:j]))
			}
			out.WriteString(d)
			i = j
		case c == '%':
			out.WriteString("%%")
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	f := fn("dt_strftime", x)
	f.Options = map[string]any{"format": out.String()}
	return f, nil
}
