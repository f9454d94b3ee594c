package sql

import (
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/expr"
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
		return nil, errorAt(ct.P, "CREATE TABLE %s needs WITH ('connector' = 'parquet' | 'datagen' | 'nexmark')", ct.Name)
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
	default:
		return nil, errorAt(conn.P, "unknown connector '%s' (expected 'parquet', 'datagen' or 'nexmark'; Kafka tables come later)", conn.Value)
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
