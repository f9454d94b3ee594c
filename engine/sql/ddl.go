package sql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// createTable plans CREATE TABLE ... WITH ('connector' = ...) as a source node: parquet
// (scan_parquet), datagen or nexmark; the declared columns are read (and cast to their
// declared types where the source's differ), the WATERMARK gives the event time.
func (pl *planner) createTable(ct *CreateTable) (*plan.Node, error) {
	opts := map[string]*TableOption{}
	for _, o := range ct.Options {
		opts[strings.ToLower(o.Key)] = o
	}
	get := func(k string) string {
		if o, ok := opts[k]; ok {
			return o.Value
		}
		return ""
	}
	used := map[string]bool{"connector": true}
	num := func(k string) (float64, bool, error) {
		o, ok := opts[k]
		if !ok {
			return 0, false, nil
		}
		used[k] = true
		f, err := strconv.ParseFloat(strings.TrimSpace(o.Value), 64)
		if err != nil {
			return 0, false, errorAt(o.P, "option '%s' takes a number, got '%s'", k, o.Value)
		}
		return f, true, nil
	}
	conn, ok := opts["connector"]
	if !ok {
		return nil, errorAt(ct.P, "CREATE TABLE %s needs WITH ('connector' = 'parquet' | 'datagen' | 'nexmark' | 'kafka' | 'upsert-kafka')", ct.Name)
	}
	n := &plan.Node{}
	var et *plan.EventTimeDef // the source's event time
	switch strings.ToLower(conn.Value) {
	case "parquet", "filesystem":
		if c := strings.ToLower(conn.Value); c == "filesystem" && strings.ToLower(get("format")) != "parquet" {
			return nil, errorAt(conn.P, "the filesystem connector reads 'format' = 'parquet' only")
		}
		used["format"] = true
		p, ok := opts["path"]
		if !ok {
			return nil, errorAt(conn.P, "the parquet connector needs 'path' (a file, directory or glob)")
		}
		used["path"] = true
		args := &engine.ScanParquetArgs{Paths: []string{p.Value}} // the select below projects (pushed into the scan)
		n.Op, n.Args, et = "scan_parquet", args, &args.EventTimeDef
	case "datagen":
		args := &engine.DatagenArgs{}
		n.Op, n.Args, et = "datagen", args, &args.EventTimeDef
		if v, ok, err := num("number-of-rows"); err != nil {
			return nil, err
		} else if ok {
			c := int64(v)
			args.Count = &c
		}
		if v, ok, err := num("rows-per-second"); err != nil {
			return nil, err
		} else if ok {
			args.Rate = v
		}
		if v, ok, err := num("seed"); err != nil {
			return nil, err
		} else if ok {
			args.Seed = int64(v)
		}
		for _, c := range ct.Columns {
			t, err := typeOf(c.Type)
			if err != nil {
				return nil, err
			}
			f := plan.FieldDef{Name: c.Name, Type: t}
			pre := "fields." + strings.ToLower(c.Name) + "."
			if k := get(pre + "kind"); k != "" {
				f.Kind = strings.ToLower(k)
				used[pre+"kind"] = true
			}
			for _, o := range []string{"min", "max", "length", "null-rate"} {
				v, ok, err := num(pre + o)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				switch o {
				case "min":
					f.Min = v
				case "max":
					f.Max = v
				case "length":
					f.Length = int(v)
				case "null-rate":
					f.Nulls = v
				}
			}
			for _, o := range []string{"start", "end"} { // sequence bounds, as Flink
				if v, ok, err := num(pre + o); err != nil {
					return nil, err
				} else if ok && o == "start" {
					f.Min, f.Kind = v, "sequence"
				} else if ok {
					f.Max = v
				}
			}
			args.Fields = append(args.Fields, f)
		}
		if len(args.Fields) == 0 {
			return nil, errorAt(ct.P, "a datagen table needs its columns declared")
		}
	case "nexmark":
		args := &engine.NexmarkArgs{}
		n.Op, n.Args, et = "nexmark", args, &args.EventTimeDef
		kind := strings.ToLower(get("kind"))
		used["kind"] = true
		switch kind {
		case "bid", "auction", "person":
		default:
			return nil, errorAt(conn.P, "the nexmark connector needs 'kind' = 'bid', 'auction' or 'person'")
		}
		args.Kind = kind
		if v, ok, err := num("events-per-second"); err != nil {
			return nil, err
		} else if ok {
			args.Rate = v
		}
		if v, ok, err := num("max-events"); err != nil {
			return nil, err
		} else if ok {
			c := int64(v)
			args.Count = &c
		}
		if v, ok, err := num("seed"); err != nil {
			return nil, err
		} else if ok {
			args.Seed = int64(v)
		}
	case "kafka", "upsert-kafka":
		kt, err := kafkaOptions(ct)
		if err != nil {
			return nil, err
		}
		args, err := kt.sourceArgs()
		if err != nil {
			return nil, err
		}
		n.Op, n.Args, et = "scan_kafka", args, &args.EventTimeDef
		for _, o := range ct.Options { // all checked by kafkaOptions
			used[strings.ToLower(o.Key)] = true
		}
	default:
		msg := fmt.Sprintf("unknown connector '%s'", conn.Value)
		if sg := plan.Suggest(strings.ToLower(conn.Value), []string{"parquet", "filesystem", "datagen", "nexmark", "kafka", "upsert-kafka"}); sg != "" {
			msg += fmt.Sprintf("; did you mean '%s'?", sg)
		} else {
			msg += " (expected 'parquet', 'filesystem', 'datagen', 'nexmark', 'kafka' or 'upsert-kafka')"
		}
		return nil, errorAt(conn.P, "%s", msg)
	}
	if n.Op != "scan_kafka" {
		if ct.PrimaryKey != nil {
			return nil, unsupported(ct.KeyAt, "a PRIMARY KEY of a table of the "+conn.Value+" connector (it keys upsert-kafka writes)")
		}
		for _, c := range ct.Columns {
			if c.Metadata {
				return nil, errorAt(c.MetaAt, "the %s connector has no METADATA columns (the kafka connector has)", conn.Value)
			}
		}
	}
	for _, o := range ct.Options {
		if !used[strings.ToLower(o.Key)] {
			return nil, errorAt(o.P, "unknown option '%s' for the %s connector", o.Key, conn.Value)
		}
	}
	if w := ct.Watermark; w != nil {
		et.EventTime = w.Column
		delay, err := watermarkDelay(w)
		if err != nil {
			return nil, err
		}
		if delay != "" {
			et.MaxOutOfOrderness = delay
		}
	}
	node, schema, err := pl.add(n, ct.P)
	if err != nil {
		return nil, err
	}
	if len(ct.Columns) == 0 || n.Op == "datagen" {
		return node, nil
	}
	// the declared columns, cast where the source's types differ
	var exprs []*plan.Expr
	same := len(ct.Columns) == schema.NumFields()
	for i, c := range ct.Columns {
		idx := schema.FieldIndices(c.Name)
		if len(idx) == 0 {
			var names []string
			for _, f := range schema.Fields() {
				names = append(names, f.Name)
			}
			msg := "the source has no column " + strconv.Quote(c.Name)
			if sg := plan.Suggest(c.Name, names); sg != "" {
				msg += "; did you mean " + strconv.Quote(sg) + "?"
			}
			return nil, errorAt(c.P, "%s", msg)
		}
		want, err := typeOf(c.Type)
		if err != nil {
			return nil, err
		}
		have := schema.Field(idx[0]).Type
		x := colRef(c.Name)
		if !sameType(have, want) {
			x = alias(&plan.Expr{Cast: want, Args: []*plan.Expr{x}}, c.Name)
			same = false
		}
		if idx[0] != i {
			same = false
		}
		exprs = append(exprs, x)
	}
	if same {
		return node, nil
	}
	out, _, err := pl.add(&plan.Node{Op: "select", Input: node, Args: &engine.SelectArgs{Exprs: exprs}}, ct.P)
	return out, err
}

func sameType(have arrow.DataType, want string) bool {
	w, err := expr.ParseType(want)
	if err != nil {
		return false
	}
	if have.ID() == arrow.STRING && w.ID() == arrow.STRING {
		return true
	}
	return arrow.TypeEqual(have, w)
}

// watermarkDelay reads WATERMARK FOR ts AS ts [- INTERVAL 'n' unit].
func watermarkDelay(w *Watermark) (string, error) {
	isCol := func(e Expr) bool {
		id, ok := e.(*Ident)
		return ok && len(id.Parts) == 1 && id.Parts[0] == w.Column
	}
	if isCol(w.Expr) {
		return "", nil
	}
	if b, ok := w.Expr.(*Binary); ok && b.Op == "-" && isCol(b.L) {
		return intervalDuration(b.R)
	}
	return "", unsupported(w.Expr.Position(), "this WATERMARK expression (write WATERMARK FOR ts AS ts - INTERVAL 'n' SECOND)")
}

// isSinkable reports whether a CREATE TABLE may be a sink of INSERT INTO (parquet or
// Kafka): its errors as a source are reported where it is read, so that a sink whose
// files do not exist yet (or a table that can only be written) is no error.
func isSinkable(ct *CreateTable) bool {
	c := connectorOf(ct)
	return isParquetTable(ct) || c == "kafka" || c == "upsert-kafka"
}

// isParquetTable reports whether a CREATE TABLE is of the parquet (filesystem) connector.
func isParquetTable(ct *CreateTable) bool {
	c := connectorOf(ct)
	return c == "parquet" || c == "filesystem"
}

// insert plans INSERT INTO t SELECT ...: t is a CREATE TABLE of the parquet connector, the
// query's columns (by position) are cast to its declared columns, and the rows are
// appended as Parquet files to its 'path' directory (the engine's write_parquet, mode
// append). The result is the sink's summary of the files written.
func (pl *planner) insert(ins *Insert) (*plan.Node, error) {
	ct, ok := pl.ddl[ins.Table]
	if !ok {
		if _, isTable := pl.tables[ins.Table]; isTable {
			return nil, unsupported(ins.TableAt, "INSERT INTO a table that is not a CREATE TABLE of the parquet, kafka or upsert-kafka connector")
		}
		return nil, errorAt(ins.TableAt, "INSERT INTO %s: no table %q; create it first with CREATE TABLE %s (...) WITH ('connector' = 'parquet', 'path' = '...')", ins.Table, ins.Table, ins.Table)
	}
	if c := connectorOf(ct); c == "kafka" || c == "upsert-kafka" {
		return pl.insertKafka(ins, ct)
	}
	if !isParquetTable(ct) {
		return nil, unsupported(ins.TableAt, "INSERT INTO a table of a connector other than parquet, kafka and upsert-kafka")
	}
	var path string
	for _, o := range ct.Options {
		if strings.EqualFold(o.Key, "path") {
			path = o.Value
		}
	}
	if path == "" {
		return nil, errorAt(ct.P, "the parquet connector needs 'path' (the directory INSERT INTO writes to)")
	}
	r, err := pl.query(ins.Query)
	if err != nil {
		return nil, err
	}
	if r.win != nil {
		return nil, unsupported(r.win.at, "a window table function without GROUP BY window_start, window_end")
	}
	node, err := pl.insertColumns(ins, ct.Columns, r)
	if err != nil {
		return nil, err
	}
	out, _, err := pl.add(&plan.Node{Op: "write_parquet", Input: node, Args: &engine.WriteParquetArgs{Path: path, Mode: "append"}}, ins.P)
	return out, err
}

// insertColumns gives the query's columns (by position) the names of the table's
// declared columns, cast to their types where they differ (none declared: as they are).
func (pl *planner) insertColumns(ins *Insert, cols []*ColumnDef, r *rel) (*plan.Node, error) {
	if len(cols) == 0 {
		return r.node, nil
	}
	if len(cols) != len(r.cols) {
		return nil, errorAt(ins.Query.P, "INSERT INTO %s: the query gives %d columns, the table has %d", ins.Table, len(r.cols), len(cols))
	}
	var exprs []*plan.Expr
	for i, c := range cols {
		want, err := typeOf(c.Type)
		if err != nil {
			return nil, err
		}
		x := colRef(r.cols[i].field)
		if r.cols[i].typ == nil || !sameType(r.cols[i].typ, want) {
			x = &plan.Expr{Cast: want, Args: []*plan.Expr{x}}
		}
		exprs = append(exprs, alias(x, c.Name))
	}
	n, _, err := pl.add(&plan.Node{Op: "select", Input: r.node, Args: &engine.SelectArgs{Exprs: exprs}}, ins.Query.P)
	return n, err
}

// insertKafka plans INSERT INTO a kafka or upsert-kafka table as the engine's
// write_kafka: the query's columns (by position) become the table's physical columns,
// written as the record values in the table's format. An appending result goes to
// either connector (upsert-kafka keys each record by the PRIMARY KEY); an updating result
// (a GROUP BY over an unbounded table, say) only to upsert-kafka, whose PRIMARY KEY must
// be the changelog's key: +I/+U are written as the key's value, -D as a tombstone.
func (pl *planner) insertKafka(ins *Insert, ct *CreateTable) (*plan.Node, error) {
	kt, err := kafkaOptions(ct)
	if err != nil {
		return nil, err
	}
	for _, c := range kt.meta {
		if !c.Virtual {
			return nil, unsupported(c.MetaAt, fmt.Sprintf("INSERT INTO %s, whose metadata column %s is written (declare it METADATA VIRTUAL: riverbed writes the record values only)", ins.Table, c.Name))
		}
	}
	r, err := pl.query(ins.Query)
	if err != nil {
		return nil, err
	}
	if r.win != nil {
		return nil, unsupported(r.win.at, "a window table function without GROUP BY window_start, window_end")
	}
	schema, err := pl.schemaOf(r.node)
	if err != nil {
		return nil, atPos(ins.Query.P, err)
	}
	updating := len(schema.FieldIndices(agg.OpColumn)) > 0
	d, err := kt.sinkDef(updating)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errorAt(ins.TableAt, "INSERT INTO %s: the kafka table is append-only and does not accept updates, and the query gives an updating result (a GROUP BY or outer join over an unbounded table); declare the table with 'connector' = 'upsert-kafka' and PRIMARY KEY (the GROUP BY keys) NOT ENFORCED", ins.Table)
	}
	node, err := pl.insertColumns(ins, kt.physical, r)
	if err != nil {
		return nil, err
	}
	out, _, err := pl.add(&plan.Node{Op: "write_kafka", Input: node, Args: &engine.WriteKafkaArgs{Kafka: d}}, ins.TableAt)
	return out, err
}

// connectorOf is the 'connector' option of a CREATE TABLE, in lower case.
func connectorOf(ct *CreateTable) string {
	for _, o := range ct.Options {
		if strings.EqualFold(o.Key, "connector") {
			return strings.ToLower(o.Value)
		}
	}
	return ""
}
