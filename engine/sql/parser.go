package sql

import (
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of expressions and queries, so that hostile input cannot
// exhaust the stack.
const maxDepth = 200

// parser is a recursive-descent parser over the token list.
type parser struct {
	toks  []token
	i     int
	depth int
}

// Parse parses SQL text: statements separated by ';' (CREATE TABLE, CREATE VIEW, queries).
func Parse(src string) ([]Statement, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var out []Statement
	for {
		for p.acceptOp(";") {
		}
		if p.peek().kind == tEOF {
			break
		}
		st, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		if p.peek().kind != tEOF && !p.peek().isOp(";") {
			return nil, p.unexpected("';' or the end of the statement")
		}
	}
	if len(out) == 0 {
		return nil, errorAt(Pos{1, 1}, "empty SQL text: expected a query")
	}
	return out, nil
}

func (t token) isOp(op string) bool { return t.kind == tOp && t.text == op }

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) acceptOp(op string) bool {
	if p.peek().isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) unexpected(want string) error {
	t := p.peek()
	return errorAt(t.pos, "expected %s, found %s", want, t.describe())
}

func (p *parser) expect(kw string) error {
	if !p.accept(kw) {
		return p.unexpected(strings.ToUpper(kw))
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.unexpected("'" + op + "'")
	}
	return nil
}

// maxChain bounds a chain of arithmetic or || operators (a + b + c ... builds a tree as
// deep as the chain is long, which the plan carries as nesting).
const maxChain = 300

// link counts one more operator of a chain: more than maxChain is an error.
func (p *parser) link(n *int, at Pos) error {
	*n++
	if p.depth+*n > maxChain {
		return errorAt(at, "the expression chains more than %d operators; split it into parts in parentheses", maxChain)
	}
	return nil
}

// balanced joins the terms of an AND or OR chain (associative) into a tree of depth log n
// instead of n, the terms in their order: a generated WHERE of a thousand ORs plans.
func balanced(op string, terms []Expr) Expr {
	if len(terms) == 1 {
		return terms[0]
	}
	mid := len(terms) / 2
	l := balanced(op, terms[:mid])
	return &Binary{At{l.Position()}, op, l, balanced(op, terms[mid:])}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errorAt(p.peek().pos, "the query nests too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

// reserved words that cannot be an alias without AS.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true,
	"LIMIT": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "JOIN": true, "INNER": true,
	"LEFT": true, "RIGHT": true, "FULL": true, "CROSS": true, "OUTER": true, "ON": true, "USING": true,
	"AND": true, "OR": true, "NOT": true, "AS": true, "WITH": true, "BY": true, "WHEN": true,
	"THEN": true, "ELSE": true, "END": true, "CASE": true, "IN": true, "IS": true, "BETWEEN": true,
	"LIKE": true, "EXISTS": true, "NULL": true, "TRUE": true, "FALSE": true, "DISTINCT": true,
	"ALL": true, "FETCH": true, "OFFSET": true, "WINDOW": true, "NATURAL": true, "ASC": true, "DESC": true,
	"NULLS": true, "FOR": true, "LATERAL": true, "TABLE": true, "CREATE": true, "WATERMARK": true,
	"INTERVAL": true, "CAST": true, "OVER": true, "PARTITION": true, "ESCAPE": true,
}

// ident reads an identifier (unquoted non-reserved, or quoted).
func (p *parser) ident(what string) (string, Pos, error) {
	t := p.peek()
	if t.kind == tQuoted || t.kind == tIdent && !reserved[strings.ToUpper(t.text)] {
		p.i++
		return t.text, t.pos, nil
	}
	return "", t.pos, p.unexpected(what)
}

// ---- statements ----

func (p *parser) statement() (Statement, error) {
	t := p.peek()
	if t.is("CREATE") {
		p.next()
		p.accept("TEMPORARY")
		switch {
		case p.accept("TABLE"):
			return p.createTable(t.pos)
		case p.accept("VIEW"):
			name, _, err := p.ident("a view name")
			if err != nil {
				return nil, err
			}
			if err := p.expect("AS"); err != nil {
				return nil, err
			}
			q, err := p.query()
			if err != nil {
				return nil, err
			}
			return &CreateView{At{t.pos}, name, q}, nil
		}
		return nil, p.unexpected("TABLE or VIEW after CREATE")
	}
	if t.is("INSERT") {
		p.next()
		if p.peek().is("OVERWRITE") {
			return nil, unsupported(p.peek().pos, "INSERT OVERWRITE")
		}
		if err := p.expect("INTO"); err != nil {
			return nil, err
		}
		name, at, err := p.ident("a table name")
		if err != nil {
			return nil, err
		}
		if p.peek().isOp("(") && !p.startsQuery() {
			return nil, unsupported(p.peek().pos, "a column list in INSERT INTO")
		}
		q, err := p.query()
		if err != nil {
			return nil, err
		}
		return &Insert{At{t.pos}, name, at, q}, nil
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return &QueryStmt{At{t.pos}, q}, nil
}

func (p *parser) createTable(at Pos) (Statement, error) {
	p.accept("IF") // IF NOT EXISTS
	if p.peek().is("NOT") {
		p.next()
		if err := p.expect("EXISTS"); err != nil {
			return nil, err
		}
	}
	name, _, err := p.ident("a table name")
	if err != nil {
		return nil, err
	}
	ct := &CreateTable{At: At{at}, Name: name}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.is("WATERMARK"):
			p.next()
			if err := p.expect("FOR"); err != nil {
				return nil, err
			}
			c, _, err := p.ident("the watermark's column")
			if err != nil {
				return nil, err
			}
			if err := p.expect("AS"); err != nil {
				return nil, err
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if ct.Watermark != nil {
				return nil, errorAt(t.pos, "a table has one WATERMARK")
			}
			ct.Watermark = &Watermark{At{t.pos}, c, e}
		case t.is("PRIMARY") || t.is("CONSTRAINT"):
			p.next()
			if t.is("CONSTRAINT") {
				if _, _, err := p.ident("a constraint name"); err != nil {
					return nil, err
				}
				if !p.peek().is("PRIMARY") {
					return nil, p.unexpected("PRIMARY KEY (the only constraint)")
				}
				p.next()
			}
			if err := p.expect("KEY"); err != nil {
				return nil, err
			}
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			var cols []string
			for {
				c, _, err := p.ident("a column name")
				if err != nil {
					return nil, err
				}
				cols = append(cols, c)
				if p.acceptOp(")") {
					break
				}
				if err := p.expectOp(","); err != nil {
					return nil, err
				}
			}
			if err := p.notEnforced(); err != nil {
				return nil, err
			}
			if ct.PrimaryKey != nil {
				return nil, errorAt(t.pos, "a table has one PRIMARY KEY")
			}
			ct.PrimaryKey, ct.KeyAt = cols, t.pos
		default:
			c, cp, err := p.ident("a column name")
			if err != nil {
				return nil, err
			}
			if p.peek().is("AS") {
				return nil, unsupported(p.peek().pos, "a computed column (for processing time, ORDER BY PROCTIME() in the query instead of a column AS PROCTIME())")
			}
			ty, err := p.typeName()
			if err != nil {
				return nil, err
			}
			notNull := p.accept("NOT")
			if notNull {
				if err := p.expect("NULL"); err != nil {
					return nil, err
				}
			}
			cd := &ColumnDef{At: At{cp}, Name: c, Type: ty, NotNull: notNull}
			if kt := p.peek(); kt.is("PRIMARY") {
				p.next()
				if err := p.expect("KEY"); err != nil {
					return nil, err
				}
				if err := p.notEnforced(); err != nil {
					return nil, err
				}
				if ct.PrimaryKey != nil {
					return nil, errorAt(kt.pos, "a table has one PRIMARY KEY")
				}
				ct.PrimaryKey, ct.KeyAt = []string{c}, kt.pos
			}
			if mt := p.peek(); mt.is("METADATA") {
				p.next()
				cd.Metadata, cd.MetaKey, cd.MetaAt = true, c, mt.pos
				if p.accept("FROM") {
					kt := p.peek()
					if kt.kind != tString {
						return nil, p.unexpected("the metadata key in quotes, such as 'timestamp'")
					}
					p.next()
					cd.MetaKey, cd.MetaAt = kt.text, kt.pos
				}
				cd.Virtual = p.accept("VIRTUAL")
			}
			ct.Columns = append(ct.Columns, cd)
		}
		if p.acceptOp(")") {
			break
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
	if p.peek().is("PARTITIONED") {
		return nil, unsupported(p.peek().pos, "PARTITIONED BY")
	}
	if err := p.expect("WITH"); err != nil {
		return nil, err
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		kt := p.peek()
		if kt.kind != tString {
			return nil, p.unexpected("an option name in quotes, such as 'connector'")
		}
		p.next()
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		vt := p.peek()
		if vt.kind != tString {
			return nil, p.unexpected("an option value in quotes")
		}
		p.next()
		ct.Options = append(ct.Options, &TableOption{At{kt.pos}, kt.text, vt.text})
		if p.acceptOp(")") {
			break
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// notEnforced reads the NOT ENFORCED of a PRIMARY KEY: as in Flink, the key is declared,
// not checked.
func (p *parser) notEnforced() error {
	if !p.peek().is("NOT") {
		return errorAt(p.peek().pos, "PRIMARY KEY needs NOT ENFORCED: the key is declared (it keys upsert writes and versioned tables), not checked")
	}
	p.next()
	return p.expect("ENFORCED")
}

func (p *parser) typeName() (*TypeName, error) {
	t := p.peek()
	if t.kind != tIdent {
		return nil, p.unexpected("a type name")
	}
	p.next()
	tn := &TypeName{At: At{t.pos}, Name: strings.ToUpper(t.text)}
	switch tn.Name {
	case "DOUBLE":
		p.accept("PRECISION")
	case "TIMESTAMP", "TIME":
		defer func() {
			if p.peek().is("WITH") || p.peek().is("WITHOUT") {
				with := p.peek().is("WITH")
				save := p.i
				p.next()
				if p.accept("LOCAL") && p.accept("TIME") && p.accept("ZONE") {
					if with {
						tn.Name = "TIMESTAMP_LTZ"
					}
				} else if p.accept("TIME") && p.accept("ZONE") {
					if with {
						tn.Name = "TIMESTAMP_LTZ"
					}
				} else {
					p.i = save
				}
			}
		}()
	}
	if p.acceptOp("(") {
		for {
			nt := p.peek()
			if nt.kind != tNumber {
				return nil, p.unexpected("a number")
			}
			p.next()
			n, err := strconv.Atoi(nt.text)
			if err != nil {
				return nil, errorAt(nt.pos, "bad type parameter %s", nt.text)
			}
			tn.Params = append(tn.Params, n)
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
	}
	return tn, nil
}

// ---- queries ----

func (p *parser) query() (*Query, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	q := &Query{At: At{p.peek().pos}}
	if p.accept("WITH") {
		for {
			name, np, err := p.ident("a name for the WITH query")
			if err != nil {
				return nil, err
			}
			if err := p.expect("AS"); err != nil {
				return nil, err
			}
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			sub, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			q.With = append(q.With, &CTE{At{np}, name, sub})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	body, err := p.setExpr()
	if err != nil {
		return nil, err
	}
	q.Body = body
	if p.peek().is("ORDER") {
		p.next()
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		items, err := p.orderItems()
		if err != nil {
			return nil, err
		}
		q.OrderBy = items
	}
	if t := p.peek(); t.is("LIMIT") {
		n, err := p.rowCount("LIMIT")
		if err != nil {
			return nil, err
		}
		q.Limit, q.LimitAt = &n, t.pos
	}
	if t := p.peek(); t.is("OFFSET") {
		n, err := p.rowCount("OFFSET")
		if err != nil {
			return nil, err
		}
		p.accept("ROWS")
		p.accept("ROW")
		q.Offset = &n
		if q.Limit == nil {
			q.LimitAt = t.pos
		}
	}
	if t := p.peek(); t.is("OFFSET") || t.is("FETCH") {
		return nil, unsupported(t.pos, strings.ToUpper(t.text))
	}
	return q, nil
}

// rowCount reads the keyword word (LIMIT, OFFSET) and the non-negative row count after it.
func (p *parser) rowCount(word string) (int64, error) {
	p.next()
	nt := p.peek()
	if nt.kind != tNumber {
		return 0, p.unexpected("a row count after " + word)
	}
	p.next()
	n, err := strconv.ParseInt(nt.text, 10, 64)
	if err != nil || n < 0 {
		return 0, errorAt(nt.pos, "%s takes a non-negative integer, got %s", word, nt.text)
	}
	return n, nil
}

func (p *parser) orderItems() ([]*OrderItem, error) {
	var items []*OrderItem
	for {
		at := p.peek().pos
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		it := &OrderItem{At: At{at}, Expr: e}
		if p.accept("DESC") {
			it.Desc = true
		} else {
			p.accept("ASC")
		}
		if p.accept("NULLS") {
			first := p.peek().is("FIRST")
			if !first && !p.peek().is("LAST") {
				return nil, p.unexpected("FIRST or LAST")
			}
			p.next()
			it.NullsFirst = &first
		}
		items = append(items, it)
		if !p.acceptOp(",") {
			return items, nil
		}
	}
}

func (p *parser) setExpr() (QueryBody, error) {
	left, err := p.queryPrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op string
		switch {
		case t.is("UNION"):
			op = "union"
		case t.is("INTERSECT"):
			op = "intersect"
		case t.is("EXCEPT") || t.is("MINUS"):
			op = "except"
		default:
			return left, nil
		}
		p.next()
		all := p.accept("ALL")
		if !all {
			p.accept("DISTINCT")
		}
		right, err := p.queryPrimary()
		if err != nil {
			return nil, err
		}
		left = &SetOp{At{t.pos}, op, all, left, right}
	}
}

func (p *parser) queryPrimary() (QueryBody, error) {
	t := p.peek()
	if t.isOp("(") {
		p.next()
		q, err := p.query()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &ParenQuery{At{t.pos}, q}, nil
	}
	if !t.is("SELECT") {
		return nil, p.unexpected("SELECT")
	}
	return p.selectBlock()
}

func (p *parser) selectBlock() (*Select, error) {
	t := p.next() // SELECT
	s := &Select{At: At{t.pos}}
	if p.accept("DISTINCT") {
		s.Distinct = true
	} else {
		p.accept("ALL")
	}
	for {
		it, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, it)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.accept("FROM") {
		for {
			te, err := p.tableExpr()
			if err != nil {
				return nil, err
			}
			s.From = append(s.From, te)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.accept("WHERE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.Where = e
	}
	if p.peek().is("GROUP") {
		p.next()
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.GroupBy = append(s.GroupBy, e)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.accept("HAVING") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.Having = e
	}
	if t := p.peek(); t.is("WINDOW") || t.is("QUALIFY") {
		return nil, unsupported(t.pos, strings.ToUpper(t.text))
	}
	return s, nil
}

func (p *parser) selectItem() (*SelectItem, error) {
	t := p.peek()
	if t.isOp("*") {
		p.next()
		return &SelectItem{At: At{t.pos}, Star: true}, nil
	}
	if (t.kind == tIdent || t.kind == tQuoted) && p.peekN(1).isOp(".") && p.peekN(2).isOp("*") {
		p.i += 3
		return &SelectItem{At: At{t.pos}, Star: true, Qualifier: t.text}, nil
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	it := &SelectItem{At: At{t.pos}, Expr: e}
	if p.accept("AS") {
		a, _, err := p.ident("an alias after AS")
		if err != nil {
			return nil, err
		}
		it.Alias = a
	} else if nt := p.peek(); nt.kind == tQuoted || nt.kind == tIdent && !reserved[strings.ToUpper(nt.text)] {
		p.next()
		it.Alias = nt.text
	}
	return it, nil
}

// alias reads an optional [AS] alias of a FROM item.
func (p *parser) alias() (string, error) {
	if p.accept("AS") {
		a, _, err := p.ident("an alias after AS")
		return a, err
	}
	if t := p.peek(); t.kind == tQuoted || t.kind == tIdent && !reserved[strings.ToUpper(t.text)] {
		p.next()
		return t.text, nil
	}
	return "", nil
}

func (p *parser) tableExpr() (TableExpr, error) {
	left, err := p.tablePrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		kind := ""
		switch {
		case t.is("JOIN"):
			kind = "inner"
		case t.is("INNER"):
			kind = "inner"
		case t.is("LEFT"):
			kind = "left"
		case t.is("RIGHT"):
			kind = "right"
		case t.is("FULL"):
			kind = "full"
		case t.is("CROSS"):
			kind = "cross"
		case t.is("NATURAL"):
			return nil, unsupported(t.pos, "NATURAL JOIN")
		default:
			return left, nil
		}
		p.next()
		if kind != "inner" || !t.is("JOIN") {
			if kind == "left" || kind == "right" || kind == "full" {
				p.accept("OUTER")
			}
			if err := p.expect("JOIN"); err != nil {
				return nil, err
			}
		}
		right, err := p.tablePrimary()
		if err != nil {
			return nil, err
		}
		j := &JoinExpr{At: At{t.pos}, Kind: kind, Left: left, Right: right}
		if kind != "cross" {
			switch {
			case p.accept("ON"):
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				j.On = e
			case p.accept("USING"):
				if err := p.expectOp("("); err != nil {
					return nil, err
				}
				for {
					c, _, err := p.ident("a column name")
					if err != nil {
						return nil, err
					}
					j.Using = append(j.Using, c)
					if p.acceptOp(")") {
						break
					}
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
				}
			default:
				return nil, p.unexpected("ON or USING after the joined table")
			}
		}
		left = j
	}
}

func (p *parser) tablePrimary() (TableExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	switch {
	case t.is("LATERAL"):
		return nil, unsupported(t.pos, "LATERAL")
	case t.is("TABLE") && p.peekN(1).isOp("("):
		p.i += 2
		tvf, err := p.windowTVF(t.pos)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if tvf.Alias, err = p.alias(); err != nil {
			return nil, err
		}
		return tvf, nil
	case t.isOp("("):
		p.next()
		if p.peek().is("SELECT") || p.peek().is("WITH") || p.peek().isOp("(") && p.startsQuery() {
			q, err := p.query()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			a, err := p.alias()
			if err != nil {
				return nil, err
			}
			return &SubqueryTable{At{t.pos}, q, a}, nil
		}
		te, err := p.tableExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return te, nil
	}
	name, np, err := p.ident("a table name")
	if err != nil {
		return nil, err
	}
	for p.peek().isOp(".") { // catalog.db.table: the last part names the table
		p.next()
		if name, _, err = p.ident("a table name"); err != nil {
			return nil, err
		}
	}
	tn := &TableName{At: At{np}, Name: name}
	if ft := p.peek(); ft.is("FOR") {
		p.next()
		if !p.peek().is("SYSTEM_TIME") {
			return nil, p.unexpected("SYSTEM_TIME AS OF after FOR")
		}
		p.next()
		if err := p.expect("AS"); err != nil {
			return nil, err
		}
		if err := p.expect("OF"); err != nil {
			return nil, err
		}
		e, err := p.addExpr()
		if err != nil {
			return nil, err
		}
		tn.AsOf, tn.AsOfAt = e, ft.pos
	}
	a, err := p.alias()
	if err != nil {
		return nil, err
	}
	tn.Alias = a
	return tn, nil
}

// startsQuery reports whether the parenthesis at the cursor opens a query (looking past
// nested parentheses).
func (p *parser) startsQuery() bool {
	j := p.i
	for j < len(p.toks) && p.toks[j].isOp("(") {
		j++
	}
	return j < len(p.toks) && (p.toks[j].is("SELECT") || p.toks[j].is("WITH"))
}

func (p *parser) windowTVF(at Pos) (*WindowTVF, error) {
	ft := p.peek()
	if ft.kind != tIdent {
		return nil, p.unexpected("TUMBLE, HOP, CUMULATE or SESSION")
	}
	fn := strings.ToUpper(ft.text)
	switch fn {
	case "TUMBLE", "HOP", "CUMULATE", "SESSION":
	default:
		return nil, errorAt(ft.pos, "unknown table function %s: expected TUMBLE, HOP, CUMULATE or SESSION", ft.text)
	}
	p.next()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	tvf := &WindowTVF{At: At{at}, Fn: fn}
	tt := p.peek()
	if !tt.is("TABLE") {
		return nil, p.unexpected("TABLE <name> as the first argument of " + fn)
	}
	p.next()
	name, np, err := p.ident("a table name")
	if err != nil {
		return nil, err
	}
	tvf.Table = &TableName{At: At{np}, Name: name}
	if p.peek().is("PARTITION") {
		p.next()
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			c, _, err := p.ident("a column name")
			if err != nil {
				return nil, err
			}
			tvf.PartitionBy = append(tvf.PartitionBy, c)
			// Flink writes PARTITION BY k, DESCRIPTOR(ts): the comma before DESCRIPTOR ends the list.
			if !p.peek().isOp(",") || p.peekN(1).is("DESCRIPTOR") {
				break
			}
			p.next()
		}
	}
	if err := p.expectOp(","); err != nil {
		return nil, err
	}
	dt := p.peek()
	if !dt.is("DESCRIPTOR") {
		return nil, p.unexpected("DESCRIPTOR(<time column>)")
	}
	p.next()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	if tvf.Descriptor, tvf.DescAt, err = p.ident("the time column"); err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	for p.acceptOp(",") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		tvf.Args = append(tvf.Args, e)
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return tvf, nil
}

// ---- expressions: precedence climbing ----

func (p *parser) expr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.orExpr()
}

func (p *parser) orExpr() (Expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	terms := []Expr{l}
	for p.peek().is("OR") {
		p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		terms = append(terms, r)
	}
	return balanced("or", terms), nil
}

func (p *parser) andExpr() (Expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	terms := []Expr{l}
	for p.peek().is("AND") {
		p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		terms = append(terms, r)
	}
	return balanced("and", terms), nil
}

func (p *parser) notExpr() (Expr, error) {
	if t := p.peek(); t.is("NOT") && !p.peekN(1).is("EXISTS") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &Unary{At{t.pos}, "not", x}, nil
	}
	return p.predicate()
}

var compareOps = map[string]string{"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) predicate() (Expr, error) {
	l, err := p.concatExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind == tOp {
			op, ok := compareOps[t.text]
			if !ok {
				return l, nil
			}
			p.next()
			r, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			l = &Binary{At{l.Position()}, op, l, r}
			continue
		}
		not := false
		if t.is("NOT") && (p.peekN(1).is("IN") || p.peekN(1).is("BETWEEN") || p.peekN(1).is("LIKE")) {
			p.next()
			not = true
			t = p.peek()
		}
		switch {
		case t.is("IS"):
			p.next()
			n := p.accept("NOT")
			switch {
			case p.accept("NULL"):
				l = &IsNull{At{l.Position()}, l, n}
			case p.accept("TRUE"):
				l = &IsBool{At{l.Position()}, l, true, n}
			case p.accept("FALSE"):
				l = &IsBool{At{l.Position()}, l, false, n}
			case p.accept("UNKNOWN"): // the null of a boolean
				l = &IsNull{At{l.Position()}, l, n}
			case p.accept("DISTINCT"):
				if err := p.expect("FROM"); err != nil {
					return nil, err
				}
				r, err := p.concatExpr()
				if err != nil {
					return nil, err
				}
				l = &IsDistinct{At{l.Position()}, l, r, n}
			default:
				return nil, p.unexpected("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS")
			}
		case t.is("IN"):
			p.next()
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			if p.peek().is("SELECT") || p.peek().is("WITH") {
				q, err := p.query()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				l = &InSubquery{At{l.Position()}, l, q, not}
				continue
			}
			var list []Expr
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				list = append(list, e)
				if p.acceptOp(")") {
					break
				}
				if !p.acceptOp(",") {
					return nil, p.unexpected("',' or ')'")
				}
			}
			l = &InList{At{l.Position()}, l, list, not}
		case t.is("BETWEEN"):
			p.next()
			p.accept("ASYMMETRIC")
			if p.peek().is("SYMMETRIC") {
				return nil, unsupported(p.peek().pos, "BETWEEN SYMMETRIC")
			}
			lo, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expect("AND"); err != nil {
				return nil, err
			}
			hi, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			l = &Between{At{l.Position()}, l, lo, hi, not}
		case t.is("LIKE"):
			p.next()
			pat, err := p.concatExpr()
			if err != nil {
				return nil, err
			}
			lk := &Like{At: At{l.Position()}, X: l, Pattern: pat, Not: not}
			if p.accept("ESCAPE") {
				et := p.peek()
				if et.kind != tString {
					return nil, p.unexpected("an escape character in quotes")
				}
				p.next()
				lk.Escape = et.text
			}
			l = lk
		default:
			if not {
				return nil, p.unexpected("IN, BETWEEN or LIKE after NOT")
			}
			return l, nil
		}
	}
}

func (p *parser) concatExpr() (Expr, error) {
	l, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	chain := 0
	for p.peek().isOp("||") {
		if err := p.link(&chain, p.next().pos); err != nil {
			return nil, err
		}
		r, err := p.addExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{At{l.Position()}, "||", l, r}
	}
	return l, nil
}

func (p *parser) addExpr() (Expr, error) {
	l, err := p.mulExpr()
	if err != nil {
		return nil, err
	}
	chain := 0
	for p.peek().isOp("+") || p.peek().isOp("-") {
		t := p.next()
		if err := p.link(&chain, t.pos); err != nil {
			return nil, err
		}
		r, err := p.mulExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{At{l.Position()}, t.text, l, r}
	}
	return l, nil
}

func (p *parser) mulExpr() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	chain := 0
	for p.peek().isOp("*") || p.peek().isOp("/") || p.peek().isOp("%") {
		t := p.next()
		if err := p.link(&chain, t.pos); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Binary{At{l.Position()}, t.text, l, r}
	}
	return l, nil
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if t.isOp("-") || t.isOp("+") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if lit, ok := x.(*Literal); ok && t.text == "-" && (lit.Kind == LitInt || lit.Kind == LitDecimal || lit.Kind == LitFloat) && !strings.HasPrefix(lit.Text, "-") {
			return &Literal{At{t.pos}, lit.Kind, "-" + lit.Text, ""}, nil
		}
		return &Unary{At{t.pos}, t.text, x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.next()
		kind := LitInt
		if strings.ContainsAny(t.text, "eE") {
			kind = LitFloat
		} else if strings.Contains(t.text, ".") {
			kind = LitDecimal
		}
		return &Literal{At{t.pos}, kind, t.text, ""}, nil
	case tString:
		p.next()
		return &Literal{At{t.pos}, LitString, t.text, ""}, nil
	case tQuoted:
		return p.identExpr()
	case tOp:
		if t.text == "(" {
			p.next()
			if p.peek().is("SELECT") || p.peek().is("WITH") {
				q, err := p.query()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return &Subquery{At{t.pos}, q}, nil
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.peek().isOp(",") {
				return nil, unsupported(t.pos, "a row value (a, b, ...), as in (a, b) [NOT] IN (SELECT c, d ...) (compare column by column, or write [NOT] EXISTS)")
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
		return nil, p.unexpected("an expression")
	case tEOF:
		return nil, p.unexpected("an expression")
	}
	kw := strings.ToUpper(t.text)
	switch kw {
	case "NULL":
		p.next()
		return &Literal{At{t.pos}, LitNull, "NULL", ""}, nil
	case "TRUE", "FALSE":
		p.next()
		return &Literal{At{t.pos}, LitBool, kw, ""}, nil
	case "DATE", "TIMESTAMP":
		if p.peekN(1).kind == tString {
			p.next()
			s := p.next()
			k := LitDate
			if kw == "TIMESTAMP" {
				k = LitTimestamp
			}
			return &Literal{At{t.pos}, k, s.text, ""}, nil
		}
	case "INTERVAL":
		p.next()
		neg := p.acceptOp("-")
		st := p.peek()
		var text string
		switch st.kind {
		case tString:
			text = strings.TrimSpace(st.text)
		case tNumber:
			text = st.text
		default:
			return nil, p.unexpected("the interval's value in quotes, as INTERVAL '10' SECOND")
		}
		p.next()
		if neg {
			text = "-" + text
		}
		ut := p.peek()
		unit := strings.ToUpper(strings.TrimSuffix(strings.ToUpper(ut.text), "S"))
		switch unit {
		case "SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "YEAR", "MILLISECOND", "MICROSECOND", "WEEK":
		default:
			return nil, p.unexpected("an interval unit (SECOND, MINUTE, HOUR, DAY, MONTH, YEAR)")
		}
		p.next()
		if p.peek().is("TO") {
			return nil, unsupported(p.peek().pos, "an INTERVAL ... TO ... range")
		}
		if p.acceptOp("(") { // SECOND(3): a precision, ignored
			for !p.peek().isOp(")") && p.peek().kind != tEOF {
				p.next()
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
		}
		return &Literal{At{t.pos}, LitInterval, text, unit}, nil
	case "CASE":
		return p.caseExpr()
	case "CAST", "TRY_CAST":
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("AS"); err != nil {
			return nil, err
		}
		ty, err := p.typeName()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &Cast{At{t.pos}, x, ty}, nil
	case "EXISTS":
		return p.exists(false)
	case "NOT":
		if p.peekN(1).is("EXISTS") {
			p.next()
			return p.exists(true)
		}
	case "EXTRACT":
		if p.peekN(1).isOp("(") {
			p.i += 2
			ft := p.peek()
			if ft.kind != tIdent {
				return nil, p.unexpected("a date part such as YEAR")
			}
			p.next()
			if err := p.expect("FROM"); err != nil {
				return nil, err
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &Extract{At{t.pos}, strings.ToUpper(ft.text), x}, nil
		}
	case "SUBSTRING", "SUBSTR":
		if p.peekN(1).isOp("(") {
			return p.substring()
		}
	case "TRIM":
		if p.peekN(1).isOp("(") {
			return p.trim()
		}
	}
	if t.kind == tIdent && reserved[kw] {
		return nil, p.unexpected("an expression")
	}
	if p.peekN(1).isOp("(") {
		return p.funcCall()
	}
	return p.identExpr()
}

func (p *parser) identExpr() (Expr, error) {
	t := p.peek()
	name, _, err := p.ident("a column name")
	if err != nil {
		return nil, err
	}
	parts := []string{name}
	for p.peek().isOp(".") {
		p.next()
		n, _, err := p.ident("a column name after '.'")
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	return &Ident{At{t.pos}, parts}, nil
}

func (p *parser) exists(not bool) (Expr, error) {
	t := p.next() // EXISTS
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &Exists{At{t.pos}, q, not}, nil
}

func (p *parser) caseExpr() (Expr, error) {
	t := p.next() // CASE
	c := &Case{At: At{t.pos}}
	if !p.peek().is("WHEN") {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Operand = x
	}
	for p.peek().is("WHEN") {
		wt := p.next()
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("THEN"); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, &When{At{wt.pos}, cond, v})
	}
	if len(c.Whens) == 0 {
		return nil, p.unexpected("WHEN")
	}
	if p.accept("ELSE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Else = e
	}
	if err := p.expect("END"); err != nil {
		return nil, err
	}
	return c, nil
}

// substring reads SUBSTRING(x FROM a [FOR b]) or SUBSTRING(x, a [, b]).
func (p *parser) substring() (Expr, error) {
	t := p.next()
	p.next() // (
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	args := []Expr{x}
	if p.accept("FROM") {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.accept("FOR") {
			b, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, b)
		}
	} else {
		for p.acceptOp(",") {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &FuncCall{At: At{t.pos}, Name: "SUBSTRING", Args: args}, nil
}

// trim reads TRIM([BOTH|LEADING|TRAILING] [chars] FROM x) or TRIM(x).
func (p *parser) trim() (Expr, error) {
	t := p.next()
	p.next() // (
	name := "TRIM"
	switch {
	case p.accept("BOTH"):
	case p.accept("LEADING"):
		name = "LTRIM"
	case p.accept("TRAILING"):
		name = "RTRIM"
	}
	var chars Expr
	if !p.accept("FROM") {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.accept("FROM") {
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &FuncCall{At: At{t.pos}, Name: name, Args: []Expr{x}}, nil
		}
		chars = x
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	args := []Expr{x}
	if chars != nil {
		args = append(args, chars)
	}
	return &FuncCall{At: At{t.pos}, Name: name, Args: args}, nil
}

func (p *parser) funcCall() (Expr, error) {
	t := p.next()
	p.next() // (
	f := &FuncCall{At: At{t.pos}, Name: strings.ToUpper(t.text)}
	if p.acceptOp("*") {
		f.Star = true
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	} else if !p.acceptOp(")") {
		if p.accept("DISTINCT") {
			f.Distinct = true
		} else {
			p.accept("ALL")
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			f.Args = append(f.Args, e)
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
	}
	// agg(x) FILTER (WHERE c) is agg(CASE WHEN c THEN x END): the aggregates skip NULLs
	// (COUNT(*) counts the rows where c holds). FILTER is not reserved: only FILTER '('
	// WHERE starts the clause, otherwise FILTER is an alias.
	if ft := p.peek(); ft.is("FILTER") && p.peekN(1).isOp("(") && p.peekN(2).is("WHERE") {
		p.next()
		p.next()
		p.next()
		if _, ok := aggregateNames[f.Name]; !ok {
			return nil, errorAt(ft.pos, "FILTER (WHERE ...) applies to an aggregate function, not to %s", f.Name)
		}
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if p.peek().is("OVER") {
			return nil, unsupported(ft.pos, "FILTER (WHERE ...) with OVER")
		}
		arg := Expr(&Literal{At: At{ft.pos}, Kind: LitInt, Text: "1"})
		if !f.Star {
			if len(f.Args) != 1 {
				return nil, errorAt(f.P, "%s takes one argument, got %d", f.Name, len(f.Args))
			}
			arg = f.Args[0]
		}
		f.Star = false
		f.Args = []Expr{&Case{At: At{ft.pos}, Whens: []*When{{At: At{ft.pos}, Cond: cond, Then: arg}}}}
	}
	if ot := p.peek(); ot.is("OVER") {
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		over := &Over{At: At{ot.pos}}
		if p.peek().is("PARTITION") {
			p.next()
			if err := p.expect("BY"); err != nil {
				return nil, err
			}
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				over.PartitionBy = append(over.PartitionBy, e)
				if !p.acceptOp(",") {
					break
				}
			}
		}
		if p.peek().is("ORDER") {
			p.next()
			if err := p.expect("BY"); err != nil {
				return nil, err
			}
			items, err := p.orderItems()
			if err != nil {
				return nil, err
			}
			over.OrderBy = items
		}
		if t := p.peek(); t.is("ROWS") || t.is("RANGE") {
			fr, err := p.frame()
			if err != nil {
				return nil, err
			}
			over.Frame = fr
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		f.Over = over
	}
	return f, nil
}

// frame parses ROWS|RANGE BETWEEN bound AND bound, or ROWS|RANGE bound.
func (p *parser) frame() (*Frame, error) {
	t := p.next()
	fr := &Frame{At: At{t.pos}, Rows: t.is("ROWS")}
	if p.accept("BETWEEN") {
		var err error
		if fr.Start, err = p.frameBound(); err != nil {
			return nil, err
		}
		if err := p.expect("AND"); err != nil {
			return nil, err
		}
		if fr.End, err = p.frameBound(); err != nil {
			return nil, err
		}
		return fr, nil
	}
	var err error
	if fr.Start, err = p.frameBound(); err != nil {
		return nil, err
	}
	fr.End = FrameBound{At: fr.Start.At, Kind: "current row"}
	return fr, nil
}

func (p *parser) frameBound() (FrameBound, error) {
	t := p.peek()
	b := FrameBound{At: At{t.pos}}
	switch {
	case t.is("UNBOUNDED"):
		p.next()
		switch {
		case p.accept("PRECEDING"):
			b.Kind = "unbounded preceding"
		case p.accept("FOLLOWING"):
			b.Kind = "unbounded following"
		default:
			return b, p.unexpected("PRECEDING or FOLLOWING")
		}
	case t.is("CURRENT"):
		p.next()
		if err := p.expect("ROW"); err != nil {
			return b, err
		}
		b.Kind = "current row"
	default:
		e, err := p.addExpr()
		if err != nil {
			return b, err
		}
		b.Offset = e
		switch {
		case p.accept("PRECEDING"):
			b.Kind = "preceding"
		case p.accept("FOLLOWING"):
			b.Kind = "following"
		default:
			return b, p.unexpected("PRECEDING or FOLLOWING")
		}
	}
	return b, nil
}
