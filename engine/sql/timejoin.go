package sql

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// windowJoin plans Flink's window join of two window table functions,
//
//	FROM TABLE(TUMBLE(TABLE a, ...)) L JOIN TABLE(TUMBLE(TABLE b, ...)) R
//	ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k [AND ...]
//
// as the engine's window join ("join" how "window": pairs of rows of equal keys in the same
// window, emitted when it closes), LEFT, RIGHT and FULL joins as its outer kinds
// (window_how). Both tables' DESCRIPTOR columns must be their event time and both windows
// the same. Of an inner join, other conditions filter the pairs, and L.window_start and
// R.window_start are the one window_start column of the result; of an outer join, each
// side's window columns are NULL where the join padded that side.
func (pl *planner) windowJoin(j *JoinExpr, l, r *rel) (*rel, error) {
	if l.win == nil || r.win == nil {
		return nil, unsupported(j.P, "a join of a window table function with a table that is not one (join two window table functions on window_start, window_end and keys)")
	}
	if j.Kind == "cross" || j.Using != nil {
		return nil, unsupported(j.P, "a window join other than [INNER | LEFT | RIGHT | FULL [OUTER]] JOIN ... ON")
	}
	if err := sameWindow(l.win, r.win); err != nil {
		return nil, err
	}
	ld := *l.win.def
	ld.On = ""
	if ld.Kind == "session" {
		return nil, unsupported(j.P, "a window join of SESSION windows (window joins take TUMBLE, HOP and CUMULATE windows)")
	}
	if err := pl.checkWindowTimes(l, r); err != nil {
		return nil, err
	}
	var lBase, rBase, lWin, rWin []column
	for _, c := range l.cols {
		if isWindowCol(c) {
			lWin = append(lWin, c)
		} else {
			lBase = append(lBase, c)
		}
	}
	for _, c := range r.cols {
		if isWindowCol(c) {
			rWin = append(rWin, c)
		} else {
			rBase = append(rBase, c)
		}
	}
	both := &scope{cols: append(append([]column(nil), l.cols...), r.cols...)}
	for i := range both.cols {
		both.cols[i].owner = 0
		if i >= len(l.cols) {
			both.cols[i].owner = 1
		}
	}
	colOf := func(e Expr) (*column, bool) {
		id, ok := e.(*Ident)
		if !ok {
			return nil, false
		}
		c, err := both.resolve(id)
		return c, err == nil
	}
	var lk, rk []Expr
	var rest []Expr
	have := map[string]bool{}
	for _, c := range conjuncts(j.On) {
		if b, ok := c.(*Binary); ok && b.Op == "=" {
			x, okx := colOf(b.L)
			y, oky := colOf(b.R)
			if okx && oky && isWindowCol(*x) && x.field == y.field && x.owner != y.owner {
				have[x.field] = true
				continue
			}
			both.owners = map[int]bool{}
			if _, err := pl.expr(b.L, both); err != nil {
				return nil, err
			}
			lo := both.owners
			both.owners = map[int]bool{}
			if _, err := pl.expr(b.R, both); err != nil {
				return nil, err
			}
			ro := both.owners
			switch {
			case len(lo) == 1 && lo[0] && len(ro) == 1 && ro[1]:
				lk, rk = append(lk, b.L), append(rk, b.R)
				continue
			case len(lo) == 1 && lo[1] && len(ro) == 1 && ro[0]:
				lk, rk = append(lk, b.R), append(rk, b.L)
				continue
			}
		}
		rest = append(rest, c)
	}
	if !have["window_start"] || !have["window_end"] {
		return nil, unsupported(j.P, "a join of window table functions without L.window_start = R.window_start AND L.window_end = R.window_end")
	}
	if len(lk) == 0 {
		return nil, unsupported(j.P, "a window join without an equality of keys")
	}
	def := ld
	args := &engine.JoinArgs{How: "window", Window: &def, WindowTime: true}
	if j.Kind == "inner" {
		return pl.timeJoin(j, &rel{node: l.node, cols: lBase}, &rel{node: r.node, cols: rBase}, lk, rk, rest, args, append(lWin, rWin...))
	}
	// An outer window join: other conditions would drop the padded rows they are false for.
	if len(rest) > 0 {
		return nil, unsupported(rest[0].Position(), "a condition other than equal keys and windows in the ON of an outer window join (filter in a subquery of either side, or after the join)")
	}
	args.WindowHow = j.Kind
	// The side that may be missing from a row gets a marker column (true on its rows), so
	// that its window_start and window_end are null where the join padded it.
	padded := [2]bool{j.Kind == "right" || j.Kind == "full", j.Kind == "left" || j.Kind == "full"}
	sides := [2]*rel{{node: l.node, cols: lBase}, {node: r.node, cols: rBase}}
	marker := [2]string{"$left_row", "$right_row"}
	for side, ok := range padded {
		if !ok {
			continue
		}
		var err error
		if sides[side], err = pl.withMarker(sides[side], marker[side], j.P); err != nil {
			return nil, err
		}
	}
	out, err := pl.timeJoin(j, sides[0], sides[1], lk, rk, nil, args, append(lWin, rWin...))
	if err != nil {
		return nil, err
	}
	// Each padded side's window columns: the window where its row is there, else null.
	nw := len(lWin) + len(rWin)
	var exprs []*plan.Expr
	for _, c := range out.cols[:len(out.cols)-nw] {
		exprs = append(exprs, colRef(c.field))
	}
	wins := out.cols[len(out.cols)-nw:]
	for i, c := range wins {
		side := 0
		if i >= len(lWin) {
			side = 1
		}
		if !padded[side] {
			continue
		}
		f := fmt.Sprintf("$%s_%s", [2]string{"left", "right"}[side], c.field)
		exprs = append(exprs, alias(fn("case_when", colRef(marker[side]), colRef(c.field)), f))
		wins[i].field = f
	}
	exprs = append(exprs, colRef("window_start"), colRef("window_end"), colRef("window_time"))
	n, schema, err := pl.add(&plan.Node{Op: "select", Input: out.node, Args: &engine.SelectArgs{Exprs: exprs}}, j.P)
	if err != nil {
		return nil, err
	}
	for i := range out.cols {
		out.cols[i].typ = schema.Field(schema.FieldIndices(out.cols[i].field)[0]).Type
	}
	out.node = n
	return out, nil
}

// windowSemiJoin plans Flink's window semi and anti joins, a WHERE conjunct over a window
// table function L of the forms
//
//	L.k IN (SELECT k FROM <window table function> R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)
//	[NOT] EXISTS (SELECT * FROM <window table function> R WHERE L.k = R.k AND L.window_start = R.window_start AND ...)
//
// as the engine's window join with how "semi" or "anti": the rows of L (with their
// window) that have (have not) a row of R with equal keys in the same window. NOT IN is
// the null-aware anti join (JoinArgs.NullAware): SQL's x NOT IN (subquery) of each
// window, NULLs included.
func (pl *planner) windowSemiJoin(l *rel, c Expr) (*rel, error) {
	var q *Query
	var value Expr
	anti := false
	at := c.Position()
	switch e := c.(type) {
	case *Exists:
		q, anti = e.Query, e.Not
	case *InSubquery:
		q, value, anti = e.Query, e.X, e.Not
	case *Unary:
		if x, ok := e.X.(*Exists); ok && e.Op == "not" {
			q, anti = x.Query, !x.Not
		}
		if x, ok := e.X.(*InSubquery); ok && e.Op == "not" {
			q, value, anti = x.Query, x.X, !x.Not
		}
	}
	const what = "a condition on a window table function other than [NOT] EXISTS or IN of a window table function correlated on window_start and window_end (a window semi or anti join)"
	if q == nil || (value != nil && containsSubquery(value)) {
		return nil, unsupported(at, what)
	}
	s, simple := simpleSelect(q)
	if !simple || len(s.From) != 1 || len(s.GroupBy) > 0 || s.Having != nil || s.Distinct {
		return nil, unsupported(q.P, "a window semi or anti join whose subquery is other than SELECT ... FROM <window table function> WHERE <equalities>")
	}
	r, err := pl.tableExpr(s.From[0])
	if err != nil {
		return nil, err
	}
	if r.win == nil {
		return nil, unsupported(s.From[0].Position(), "a window semi or anti join whose subquery reads other than a window table function")
	}
	if err := sameWindow(l.win, r.win); err != nil {
		return nil, err
	}
	if l.win.def.Kind == "session" {
		return nil, unsupported(at, "a window join of SESSION windows (window joins take TUMBLE, HOP and CUMULATE windows)")
	}
	if err := pl.checkWindowTimes(l, r); err != nil {
		return nil, err
	}
	for i := range l.cols {
		l.cols[i].owner = 0
	}
	for i := range r.cols {
		r.cols[i].owner = 1
	}
	outer, inner := &scope{cols: l.cols}, &scope{cols: r.cols}
	side := func(e Expr) int { // 0: outer, 1: inner, -1: neither alone
		_, eo := pl.expr(e, outer)
		_, ei := pl.expr(e, inner)
		switch {
		case eo == nil && ei != nil:
			return 0
		case ei == nil && eo != nil:
			return 1
		}
		return -1
	}
	var lk, rk []Expr
	have := map[string]bool{}
	for _, cond := range conjuncts(s.Where) {
		b, ok := cond.(*Binary)
		if !ok || b.Op != "=" || containsSubquery(cond) {
			return nil, unsupported(cond.Position(), "a condition of a window semi or anti join other than an equality between the two sides (filter the subquery's table in a subquery of its own)")
		}
		x, y := b.L, b.R
		if side(x) == 1 && side(y) == 0 {
			x, y = y, x
		}
		if side(x) != 0 || side(y) != 1 {
			return nil, unsupported(cond.Position(), "a condition of a window semi or anti join other than an equality between the two sides (filter the subquery's table in a subquery of its own)")
		}
		xi, okx := x.(*Ident)
		yi, oky := y.(*Ident)
		if okx && oky {
			xc, _ := outer.resolve(xi)
			yc, _ := inner.resolve(yi)
			if xc != nil && yc != nil && isWindowCol(*xc) && xc.field == yc.field {
				have[xc.field] = true
				continue
			}
		}
		lk, rk = append(lk, x), append(rk, y)
	}
	if !have["window_start"] || !have["window_end"] {
		return nil, unsupported(q.P, "a window semi or anti join whose subquery is not correlated by L.window_start = R.window_start AND L.window_end = R.window_end")
	}
	// NOT IN compares with the subquery's rows of the window: a NULL on either side makes
	// it other than an anti join, and the engine's null-aware window anti join knows the
	// right rows of a whole window, not of a correlation key within it.
	nullAware := value != nil && anti
	if nullAware && len(lk) > 0 {
		return nil, unsupported(lk[0].Position(), "NOT IN over a window table function correlated by more than the window (its NULLs are per correlated group); write NOT EXISTS (... WHERE L.k = R.k AND ...), or NOT IN correlated by window_start and window_end only")
	}
	if value != nil {
		if len(s.Items) != 1 || s.Items[0].Star {
			return nil, errorAt(q.P, "the IN subquery must give one column")
		}
		lk, rk = append(lk, value), append(rk, s.Items[0].Expr)
	}
	if len(lk) == 0 {
		return nil, unsupported(q.P, "a window semi or anti join without an equality of keys")
	}
	var lBase, lWin []column
	for _, c := range l.cols {
		if isWindowCol(c) {
			lWin = append(lWin, c)
		} else {
			lBase = append(lBase, c)
		}
	}
	var rBase []column
	for _, c := range r.cols {
		if !isWindowCol(c) {
			rBase = append(rBase, c)
		}
	}
	lr, rr := &rel{node: l.node, cols: lBase}, &rel{node: r.node, cols: rBase}
	def := *l.win.def
	def.On = ""
	args := &engine.JoinArgs{How: "window", Window: &def, WindowHow: map[bool]string{false: "semi", true: "anti"}[anti], WindowTime: true, NullAware: nullAware}
	for i := range lk {
		x, y, err := pl.joinKey(lk[i], rk[i], lr, rr)
		if err != nil {
			return nil, err
		}
		args.LeftOn, args.RightOn = append(args.LeftOn, x), append(args.RightOn, y)
	}
	node, schema, err := pl.add(&plan.Node{Op: "join", Inputs: []*plan.Node{l.node, r.node}, Args: args}, at)
	if err != nil {
		return nil, err
	}
	if schema.NumFields() != len(lBase)+len(windowCols) {
		return nil, errorAt(at, "internal: the window semi join gives %d columns, the planner expected %d", schema.NumFields(), len(lBase)+len(windowCols))
	}
	cols := append([]column(nil), lBase...)
	for _, c := range lWin {
		c.typ = schema.Field(schema.FieldIndices(c.field)[0]).Type
		cols = append(cols, c)
	}
	return &rel{node: node, cols: cols}, nil
}

// checkWindowTimes checks that each side's DESCRIPTOR column is its event time, which
// the engine's window join assigns windows by.
func (pl *planner) checkWindowTimes(sides ...*rel) error {
	for _, side := range sides {
		inf, err := pl.info(side.node)
		if err != nil {
			return atPos(side.win.at, err)
		}
		if inf.EventTime != side.win.def.On {
			return errorAt(side.win.at, "a window join assigns windows by each table's event time (its WATERMARK column, or event_time=), and DESCRIPTOR(%s) is not %q", side.win.def.On, inf.EventTime)
		}
	}
	return nil
}

// withMarker adds a column of true named field to a side of a window join, out of reach
// of names.
func (pl *planner) withMarker(r *rel, field string, at Pos) (*rel, error) {
	var exprs []*plan.Expr
	for _, c := range r.cols {
		exprs = append(exprs, colRef(c.field))
	}
	exprs = append(exprs, alias(lit(true, "bool"), field))
	n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: exprs}}, at)
	if err != nil {
		return nil, err
	}
	cols := append(append([]column(nil), r.cols...), column{qual: hiddenQual, name: hiddenQual + " " + field, field: field, typ: arrow.FixedWidthTypes.Boolean, nostar: true})
	return &rel{node: n, cols: cols}, nil
}

// sameWindow checks that both sides of a window join use the same window table function
// with the same intervals, as Flink requires, naming the difference.
func sameWindow(l, r *windowTVF) error {
	ld, rd := *l.def, *r.def
	ld.On, rd.On = "", ""
	if reflect.DeepEqual(ld, rd) {
		return nil
	}
	return errorAt(r.at, "a window join needs the same window table function on both sides, and the left is %s while the right is %s", describeWindow(l.def), describeWindow(r.def))
}

// describeWindow names a window table function as SQL writes it.
func describeWindow(d *plan.WindowDef) string {
	var fnName string
	var args []string
	switch d.Kind {
	case "tumbling":
		fnName, args = "TUMBLE", []string{d.Size}
	case "sliding":
		fnName, args = "HOP", []string{d.Slide, d.Size}
	case "cumulate":
		fnName, args = "CUMULATE", []string{d.Step, d.Size}
	case "session":
		fnName, args = "SESSION", []string{d.Gap}
	default:
		fnName = d.Kind
	}
	if d.Offset != "" {
		args = append(args, "offset "+d.Offset)
	}
	for i, a := range args {
		if us, err := plan.ParseDuration(strings.TrimPrefix(a, "offset ")); err == nil {
			args[i] = strings.TrimSuffix(a, strings.TrimPrefix(a, "offset ")) + plan.FormatDuration(us)
		}
	}
	return fnName + "(" + strings.Join(args, ", ") + ")"
}

// timeJoin plans an event-time join (window or interval) of l and r on the key
// expressions, then filters by the other conditions. Every column of both sides stays
// addressable: right fields that clash get a suffix, keys are kept (extra: the columns
// the join adds, window_start and window_end, each as the qualified names given).
func (pl *planner) timeJoin(j *JoinExpr, l, r *rel, lk, rk, rest []Expr, args *engine.JoinArgs, extra []column) (*rel, error) {
	const suffix = "$right"
	for i := range lk {
		x, y, err := pl.joinKey(lk[i], rk[i], l, r)
		if err != nil {
			return nil, err
		}
		if y.Col != nil { // keep the right key column (the engine drops one of the left's name)
			for _, c := range r.cols {
				if c.field == *y.Col && c.typ != nil {
					y = &plan.Expr{Cast: expr.TypeName(c.typ), Args: []*plan.Expr{y}}
					break
				}
			}
		}
		args.LeftOn, args.RightOn = append(args.LeftOn, x), append(args.RightOn, y)
	}
	sfx := suffix
	args.Suffix = &sfx
	node, schema, err := pl.add(&plan.Node{Op: "join", Inputs: []*plan.Node{l.node, r.node}, Args: args}, j.P)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	cols := append([]column(nil), l.cols...)
	for _, c := range l.cols {
		taken[c.field] = true
	}
	for _, c := range r.cols {
		if taken[c.field] {
			c.field += suffix
		}
		cols = append(cols, c)
	}
	n := len(cols)
	cols = append(cols, extra...)
	// extra: both sides' window columns, each once in the output
	if schema.NumFields() != n+len(extra)/2 && !(len(extra) == 0 && schema.NumFields() == n) {
		return nil, errorAt(j.P, "internal: the join gives %d columns, the planner expected %d", schema.NumFields(), n)
	}
	for i := 0; i < n; i++ {
		if schema.Field(i).Name != cols[i].field {
			return nil, errorAt(j.P, "internal: the join's column %d is %q, the planner expected %q", i, schema.Field(i).Name, cols[i].field)
		}
		cols[i].typ = schema.Field(i).Type
	}
	out := &rel{node: node, cols: cols}
	for _, c := range rest {
		if out, err = pl.filter(out, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// intervalBounds finds, among an inner join's other ON conditions, the bounds of an
// interval join between the two sides' event times: L.ts BETWEEN R.ts - INTERVAL a AND
// R.ts + INTERVAL b, or comparisons L.ts >= R.ts - INTERVAL a, L.ts <= R.ts + ... (either
// side first). It returns the bounds of R.ts - L.ts (µs) and the conditions left; ok is
// false unless both bounds are found.
func (pl *planner) intervalBounds(l, r *rel, conds []Expr) (lower, upper int64, rest []Expr, ok bool) {
	lt, err1 := pl.info(l.node)
	rt, err2 := pl.info(r.node)
	if err1 != nil || err2 != nil || lt.EventTime == "" || rt.EventTime == "" {
		return 0, 0, conds, false
	}
	// timeOf: which side's event time e is, plus a constant (µs): side 0 left, 1 right
	timeOf := func(e Expr) (side int, off int64, ok bool) {
		if b, isB := e.(*Binary); isB && (b.Op == "+" || b.Op == "-") {
			lit, isL := b.R.(*Literal)
			if !isL || lit.Kind != LitInterval {
				return 0, 0, false
			}
			us, err := intervalMicros(lit)
			if err != nil {
				return 0, 0, false
			}
			if b.Op == "-" {
				us = -us
			}
			s, o, ok := timeOfCol(b.L, l, r, lt.EventTime, rt.EventTime)
			return s, o + us, ok
		}
		return timeOfCol(e, l, r, lt.EventTime, rt.EventTime)
	}
	hasLo, hasHi := false, false
	// bound records X >= Y (ge) or X <= Y as a bound of d = R - L
	bound := func(x, y Expr, ge bool) bool {
		sx, ox, ok1 := timeOf(x)
		sy, oy, ok2 := timeOf(y)
		if !ok1 || !ok2 || sx == sy {
			return false
		}
		setLo := func(v int64) {
			if !hasLo || v > lower {
				lower = v
			}
			hasLo = true
		}
		setHi := func(v int64) {
			if !hasHi || v < upper {
				upper = v
			}
			hasHi = true
		}
		switch {
		case sx == 1 && ge: // R + ox >= L + oy: d >= oy - ox
			setLo(oy - ox)
		case sx == 1:
			setHi(oy - ox)
		case ge: // L + ox >= R + oy: d <= ox - oy
			setHi(ox - oy)
		default:
			setLo(ox - oy)
		}
		return true
	}
	for _, c := range conds {
		switch c := c.(type) {
		case *Between:
			if !c.Not {
				sx, _, okx := timeOf(c.X)
				slo, _, oklo := timeOf(c.Lo)
				shi, _, okhi := timeOf(c.Hi)
				if okx && oklo && okhi && slo != sx && shi != sx && bound(c.X, c.Lo, true) && bound(c.X, c.Hi, false) {
					continue
				}
			}
		case *Binary:
			switch c.Op {
			case ">=":
				if bound(c.L, c.R, true) {
					continue
				}
			case "<=":
				if bound(c.L, c.R, false) {
					continue
				}
			}
		}
		rest = append(rest, c)
	}
	if !hasLo || !hasHi {
		return 0, 0, conds, false
	}
	return lower, upper, rest, true
}

// timeOfCol: e names the left (0) or right (1) side's event-time column.
func timeOfCol(e Expr, l, r *rel, lt, rt string) (int, int64, bool) {
	id, ok := e.(*Ident)
	if !ok {
		return 0, 0, false
	}
	lc, lerr := (&scope{cols: l.cols}).resolve(id)
	rc, rerr := (&scope{cols: r.cols}).resolve(id)
	switch {
	case lerr == nil && rerr == nil:
		return 0, 0, false // ambiguous
	case lerr == nil && lc.field == lt:
		return 0, 0, true
	case rerr == nil && rc.field == rt:
		return 1, 0, true
	}
	return 0, 0, false
}

// signedDuration formats µs as a duration the engine's joins read.
func signedDuration(us int64) string {
	if us < 0 {
		return fmt.Sprintf("-%dus", -us)
	}
	return fmt.Sprintf("%dus", us)
}

// versionedTable checks, before it is read, that the table of FOR SYSTEM_TIME AS OF is
// one a temporal join can read: not a changelog source such as upsert-kafka.
func (pl *planner) versionedTable(t *TableName) error {
	if isProctime(t.AsOf) {
		return nil // the processing-time temporal join takes a changelog
	}
	if ct, ok := pl.ddl[t.Name]; ok && connectorOf(ct) == "upsert-kafka" {
		return unsupported(t.AsOfAt, fmt.Sprintf("FOR SYSTEM_TIME AS OF the upsert-kafka table %s (a changelog: the event-time temporal join reads versioned tables of appended rows; declare it with 'connector' = 'kafka' and a WATERMARK, each record a new version of its key, or join with its current version, FOR SYSTEM_TIME AS OF PROCTIME())", t.Name))
	}
	return nil
}

// temporalJoin plans Flink's event-time temporal join,
//
//	FROM l [LEFT] JOIN r FOR SYSTEM_TIME AS OF l.t [AS alias] ON l.k = r.k [AND ...]
//
// as the engine's as-of join (backward): each left row is joined with the version of its
// key valid at its time l.t, the right row of that key with the latest event time at or
// before it. The right table is versioned by its event time (its WATERMARK); the keys are
// the ON equalities. An inner join drops the left rows with no version (a marker column
// of the right side tells them), a LEFT JOIN keeps them with NULLs. In streaming, left
// rows wait for the watermark of both inputs.
func (pl *planner) temporalJoin(j *JoinExpr, t *TableName, l, r *rel, lk, rk, rest []Expr) (*rel, error) {
	if j.Kind != "inner" && j.Kind != "left" {
		return nil, unsupported(j.P, "a temporal join other than [INNER] JOIN and LEFT JOIN (FOR SYSTEM_TIME AS OF)")
	}
	if len(lk) == 0 {
		return nil, errorAt(j.P, "a temporal join needs an equality between the two tables' keys (ON o.k = %s.k): the version of a key is looked up", t.Name)
	}
	if j.Kind == "left" && len(rest) > 0 {
		return nil, unsupported(rest[0].Position(), "a condition other than key equalities in the ON clause of a LEFT temporal join")
	}
	if isProctime(t.AsOf) {
		// Processing-time: each left row with the current version of its key.
		args := &engine.JoinArgs{How: "proctime", ProctimeHow: j.Kind}
		return pl.timeJoin(j, l, r, lk, rk, rest, args, nil)
	}
	rs, err := pl.schemaOf(r.node)
	if err != nil {
		return nil, atPos(t.P, err)
	}
	if len(rs.FieldIndices(agg.OpColumn)) > 0 {
		return nil, errorAt(t.AsOfAt, "FOR SYSTEM_TIME AS OF %s: %s is an updating table (a changelog, such as a GROUP BY over an unbounded table), and the temporal join reads versioned tables of appended rows only (each row a new version of its key at its event time)", t.Name, t.Name)
	}
	if f, ok := t.AsOf.(*FuncCall); ok && (f.Name == "NOW" || f.Name == "CURRENT_TIMESTAMP") {
		return nil, unsupported(t.AsOf.Position(), "FOR SYSTEM_TIME AS OF "+f.Name+"(); join at the left table's event time (FOR SYSTEM_TIME AS OF o.order_time), or with the current version of each key (FOR SYSTEM_TIME AS OF PROCTIME())")
	}
	id, ok := t.AsOf.(*Ident)
	if !ok {
		return nil, errorAt(t.AsOf.Position(), "FOR SYSTEM_TIME AS OF takes a time column of the left table, such as o.order_time")
	}
	lc, err := (&scope{cols: l.cols, clause: "FOR SYSTEM_TIME AS OF"}).resolve(id)
	if err != nil {
		return nil, err
	}
	if lc.typ != nil && lc.typ.ID() != arrow.TIMESTAMP && lc.typ.ID() != arrow.DATE32 {
		return nil, errorAt(id.P, "FOR SYSTEM_TIME AS OF %s: the column is %s, not a timestamp", strings.Join(id.Parts, "."), expr.TypeName(lc.typ))
	}
	linf, err := pl.info(l.node)
	if err != nil {
		return nil, atPos(j.P, err)
	}
	rinf, err := pl.info(r.node)
	if err != nil {
		return nil, atPos(t.P, err)
	}
	if rinf.EventTime == "" {
		return nil, errorAt(t.P, "%s is not a versioned table: an event-time temporal join needs its event time (a WATERMARK in its CREATE TABLE, or event_time= of its stream), which orders its versions", t.Name)
	}
	if linf.EventTime != "" && linf.EventTime != lc.field {
		return nil, errorAt(id.P, "FOR SYSTEM_TIME AS OF %s: an event-time temporal join looks versions up at the left table's event time (%s); a processing-time one is FOR SYSTEM_TIME AS OF PROCTIME()", strings.Join(id.Parts, "."), linf.EventTime)
	}
	args := &engine.JoinArgs{How: "asof", Strategy: "backward"}
	if linf.EventTime == "" {
		args.LeftTime = lc.field // a bounded left table without event time: its column
	}
	const marker = "$version"
	if j.Kind == "inner" {
		var exprs []*plan.Expr
		for _, c := range r.cols {
			exprs = append(exprs, colRef(c.field))
		}
		exprs = append(exprs, alias(lit(true, "bool"), marker))
		n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: exprs}}, t.P)
		if err != nil {
			return nil, err
		}
		cols := append(append([]column(nil), r.cols...), column{name: marker, field: marker, typ: arrow.FixedWidthTypes.Boolean, owner: 1, nostar: true})
		r = &rel{node: n, cols: cols}
	}
	out, err := pl.timeJoin(j, l, r, lk, rk, nil, args, nil)
	if err != nil {
		return nil, err
	}
	if j.Kind == "inner" {
		n, _, err := pl.add(&plan.Node{Op: "filter", Input: out.node, Args: &engine.FilterArgs{Predicate: fn("is_not_null", colRef(marker))}}, j.P)
		if err != nil {
			return nil, err
		}
		var exprs []*plan.Expr
		var cols []column
		for _, c := range out.cols {
			if c.field != marker {
				exprs, cols = append(exprs, colRef(c.field)), append(cols, c)
			}
		}
		if n, _, err = pl.add(&plan.Node{Op: "select", Input: n, Args: &engine.SelectArgs{Exprs: exprs}}, j.P); err != nil {
			return nil, err
		}
		out = &rel{node: n, cols: cols}
	}
	for _, c := range rest {
		if out, err = pl.filter(out, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}
