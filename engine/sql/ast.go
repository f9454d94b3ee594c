package sql

// Pos is a position in the SQL text: 1-based line and column (in runes).
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return "line " + itoa(p.Line) + ", column " + itoa(p.Col) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Node is any node of the AST.
type Node interface{ Position() Pos }

// At carries a node's position; every AST node embeds it.
type At struct{ P Pos }

// Position is where the node starts in the SQL text.
func (a At) Position() Pos { return a.P }

// ---- statements ----

// Statement is a query, CREATE TABLE or CREATE VIEW.
type Statement interface {
	Node
	stmt()
}

// QueryStmt is a query used as a statement.
type QueryStmt struct {
	At
	Query *Query
}

// CreateTable is CREATE [TEMPORARY] TABLE name (columns, WATERMARK ..., PRIMARY KEY (...)
// NOT ENFORCED) WITH (options).
type CreateTable struct {
	At
	Name       string
	Columns    []*ColumnDef
	Watermark  *Watermark
	PrimaryKey []string // PRIMARY KEY (cols) NOT ENFORCED, or a column's PRIMARY KEY
	KeyAt      Pos
	Options    []*TableOption
}

// ColumnDef is one declared column of CREATE TABLE: name type [PRIMARY KEY NOT ENFORCED],
// or a metadata column name type METADATA [FROM 'key'] [VIRTUAL].
type ColumnDef struct {
	At
	Name     string
	Type     *TypeName
	NotNull  bool
	Metadata bool   // METADATA
	MetaKey  string // the metadata key: FROM 'key', else the column name
	MetaAt   Pos
	Virtual  bool // VIRTUAL: read only, not part of what INSERT INTO writes
}

// Watermark is WATERMARK FOR column AS expr.
type Watermark struct {
	At
	Column string
	Expr   Expr
}

// TableOption is one 'key' = 'value' of a WITH clause.
type TableOption struct {
	At
	Key, Value string
}

// CreateView is CREATE [TEMPORARY] VIEW name AS query.
type CreateView struct {
	At
	Name  string
	Query *Query
}

func (*QueryStmt) stmt()   {}
func (*CreateTable) stmt() {}
func (*CreateView) stmt()  {}
func (*Insert) stmt()      {}

// Insert is INSERT INTO table query.
type Insert struct {
	At
	Table   string
	TableAt Pos
	Query   *Query
}

// ---- queries ----

// Query is [WITH ...] body [ORDER BY ...] [LIMIT n] [OFFSET m].
type Query struct {
	At
	With    []*CTE
	Body    QueryBody
	OrderBy []*OrderItem
	Limit   *int64
	Offset  *int64
	LimitAt Pos
}

// QueryBody is a SELECT block, a set operation or a parenthesized query.
type QueryBody interface {
	Node
	body()
}

// SetOp is left UNION [ALL] right (INTERSECT and EXCEPT are parsed and refused by the planner).
type SetOp struct {
	At
	Op    string // "union", "intersect", "except"
	All   bool
	Left  QueryBody
	Right QueryBody
}

// ParenQuery is a parenthesized query used as a query body.
type ParenQuery struct {
	At
	Query *Query
}

// CTE is one name AS (query) of a WITH clause.
type CTE struct {
	At
	Name  string
	Query *Query
}

// Select is one SELECT block.
type Select struct {
	At
	Distinct bool
	Items    []*SelectItem
	From     []TableExpr // comma-separated items
	Where    Expr
	GroupBy  []Expr
	Having   Expr
}

func (*Select) body()     {}
func (*SetOp) body()      {}
func (*ParenQuery) body() {}

// SelectItem is expr [AS alias], * or qualifier.*.
type SelectItem struct {
	At
	Expr      Expr
	Alias     string
	Star      bool
	Qualifier string // qualifier.*
}

// OrderItem is expr [ASC|DESC] [NULLS FIRST|LAST].
type OrderItem struct {
	At
	Expr       Expr
	Desc       bool
	NullsFirst *bool
}

// ---- FROM ----

// TableExpr is an item of FROM.
type TableExpr interface {
	Node
	tableExpr()
}

// TableName is a table (registered, created, a CTE or a view) with an optional alias,
// and FOR SYSTEM_TIME AS OF expr for the versioned table of a temporal join.
type TableName struct {
	At
	Name   string
	Alias  string
	AsOf   Expr // FOR SYSTEM_TIME AS OF: the time (a column of the left table)
	AsOfAt Pos
}

// SubqueryTable is (query) [AS] alias.
type SubqueryTable struct {
	At
	Query *Query
	Alias string
}

// JoinExpr is left [kind] JOIN right [ON cond | USING (cols)].
type JoinExpr struct {
	At
	Kind  string // "inner", "left", "right", "full", "cross"
	Left  TableExpr
	Right TableExpr
	On    Expr
	Using []string
}

// WindowTVF is TABLE(TUMBLE|HOP|CUMULATE|SESSION(TABLE t, DESCRIPTOR(col), INTERVAL ...)) [alias].
type WindowTVF struct {
	At
	Fn          string // upper case
	Table       TableExpr
	PartitionBy []string // SESSION(TABLE t PARTITION BY k, ...)
	Descriptor  string
	DescAt      Pos
	Args        []Expr
	Alias       string
}

func (*TableName) tableExpr()     {}
func (*SubqueryTable) tableExpr() {}
func (*JoinExpr) tableExpr()      {}
func (*WindowTVF) tableExpr()     {}

// ---- expressions ----

// Expr is a scalar expression.
type Expr interface {
	Node
	expr()
}

// Ident is a column reference: name or qualifier.name.
type Ident struct {
	At
	Parts []string
}

// LitKind is the kind of a literal.
type LitKind int

// Literal kinds.
const (
	LitInt LitKind = iota
	LitDecimal
	LitFloat
	LitString
	LitBool
	LitNull
	LitDate
	LitTimestamp
	LitInterval
)

// Literal is a constant. Interval literals carry their unit (upper case: SECOND, DAY ...).
type Literal struct {
	At
	Kind LitKind
	Text string
	Unit string
}

// Unary is NOT x, -x or +x.
type Unary struct {
	At
	Op string // "not", "-", "+"
	X  Expr
}

// Binary is l op r: or and = <> < <= > >= + - * / % ||.
type Binary struct {
	At
	Op   string
	L, R Expr
}

// FuncCall is name(args), name(*), name(DISTINCT args).
type FuncCall struct {
	At
	Name     string // upper case
	Args     []Expr
	Star     bool
	Distinct bool
	Over     *Over
}

// Over is an OVER (PARTITION BY ... ORDER BY ... [frame]) clause.
type Over struct {
	At
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Frame       *Frame // nil: the default frame
}

// Frame is ROWS|RANGE BETWEEN start AND end (or ROWS|RANGE start, ending at CURRENT ROW).
type Frame struct {
	At
	Rows       bool // ROWS (else RANGE)
	Start, End FrameBound
}

// FrameBound is UNBOUNDED PRECEDING|FOLLOWING, CURRENT ROW, or an offset (a number of rows
// or an INTERVAL) PRECEDING|FOLLOWING.
type FrameBound struct {
	At
	Kind   string // "unbounded preceding", "preceding", "current row", "following", "unbounded following"
	Offset Expr   // for "preceding" and "following"
}

// Cast is CAST(x AS type) (TRY_CAST too).
type Cast struct {
	At
	X    Expr
	Type *TypeName
}

// TypeName is a SQL type: name with parameters, e.g. DECIMAL(15, 2), TIMESTAMP(3).
type TypeName struct {
	At
	Name   string // upper case, e.g. "DECIMAL", "TIMESTAMP_LTZ"
	Params []int
}

// Case is CASE [operand] WHEN ... THEN ... [ELSE ...] END.
type Case struct {
	At
	Operand Expr
	Whens   []*When
	Else    Expr
}

// When is one WHEN cond THEN value.
type When struct {
	At
	Cond, Then Expr
}

// InList is x [NOT] IN (v1, v2, ...).
type InList struct {
	At
	X    Expr
	List []Expr
	Not  bool
}

// InSubquery is x [NOT] IN (query).
type InSubquery struct {
	At
	X     Expr
	Query *Query
	Not   bool
}

// Exists is [NOT] EXISTS (query).
type Exists struct {
	At
	Query *Query
	Not   bool
}

// Subquery is a scalar subquery (query).
type Subquery struct {
	At
	Query *Query
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	At
	X, Lo, Hi Expr
	Not       bool
}

// Like is x [NOT] LIKE pattern [ESCAPE c].
type Like struct {
	At
	X, Pattern Expr
	Escape     string
	Not        bool
}

// IsNull is x IS [NOT] NULL (and IS [NOT] TRUE/FALSE as IsBool).
type IsNull struct {
	At
	X   Expr
	Not bool
}

// IsBool is x IS [NOT] TRUE|FALSE.
type IsBool struct {
	At
	X     Expr
	Value bool
	Not   bool
}

// IsDistinct is l IS [NOT] DISTINCT FROM r: equality in which NULL equals NULL and never
// gives NULL.
type IsDistinct struct {
	At
	L, R Expr
	Not  bool // IS NOT DISTINCT FROM (the null-safe equality)
}

// Extract is EXTRACT(field FROM x).
type Extract struct {
	At
	Field string // upper case
	X     Expr
}

func (*Ident) expr()      {}
func (*Literal) expr()    {}
func (*Unary) expr()      {}
func (*Binary) expr()     {}
func (*FuncCall) expr()   {}
func (*Cast) expr()       {}
func (*Case) expr()       {}
func (*InList) expr()     {}
func (*InSubquery) expr() {}
func (*Exists) expr()     {}
func (*Subquery) expr()   {}
func (*Between) expr()    {}
func (*Like) expr()       {}
func (*IsNull) expr()     {}
func (*IsBool) expr()     {}
func (*IsDistinct) expr() {}
func (*Extract) expr()    {}
