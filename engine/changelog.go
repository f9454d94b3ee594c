package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Updating streams (changelogs). A group_by over an unbounded input cannot wait for the
// end of its input: it emits an updating result, a changelog whose last column, agg.OpColumn
// ("__op"), says what each row does to the result table (+I, -U, +U, -D; see
// engine/ops/agg/changelog.go and docs/changelog.md). A bound node whose output is such a
// stream has lnode.changelog set to the name of the operator that made it.
//
// An operator that takes an updating input says so by implementing updatingInput; every
// other operator refuses one, with the one error below. They are:
//
//   - filter, select and with_columns pass the changes on: each change row is filtered or
//     projected as a row, which keeps a retract changelog correct (a -U row carries the old
//     values, so a filter drops or keeps it by them); select keeps the op column even when it
//     is not selected, and neither may write a column of that name;
//   - write_parquet writes the change rows, op column included (a log of changes);
//   - write_parquet_snapshot applies them to the table they make and writes the whole
//     table at each checkpoint (engine/ops/sink/snapshot.go);
//   - write_kafka(upsert=True) writes them by key (a tombstone for a delete);
//   - joins on keys (inner, left, right, full, semi, anti) take a -U/-D row's equal kept
//     row back and retract its pairs, and emit a changelog of their own
//     (ops/join/updating.go; its key: joinOp.upsertKey);
//   - group_by (aggregate) takes the retracted rows back out of its groups, for count, sum,
//     mean, min, max, first, last and n_unique, and emits a changelog of its own;
//   - rank (the streaming top-N) takes a retracted row out of its partition (Flink's
//     retract rank; ops/dedup/rank.go) and emits the changes of the top N;
//   - every other operator takes appended rows only and refuses an updating input with an
//     error that names it and the operator that made the changes.

// updatingInput is implemented by the operators that take an updating input.
type updatingInput interface {
	// takeUpdates accepts the updating stream of from, an input of ln, or says why it
	// cannot; an operator that passes the changes on marks its own output as updating.
	takeUpdates(ln, from *lnode) error
}

// checkChangelogInput refuses an updating input where it cannot be taken, and marks the
// output of the operators that pass it on.
func checkChangelogInput(ln *lnode) error {
	var from *lnode
	for _, in := range ln.inputs {
		if in != nil && in.changelog != "" {
			from = in
			break
		}
	}
	if from == nil {
		return nil
	}
	if u, ok := ln.impl.(updatingInput); ok {
		return u.takeUpdates(ln, from)
	}
	return refuseUpdates(ln, from)
}

// refuseUpdates is the error of an operator that takes appended rows only, given the
// updating stream of from.
func refuseUpdates(ln, from *lnode) error {
	return rberr.New(rberr.Plan, "%s: its input is an updating stream (the changelog of %s, with an %s column of +I/-U/+U/-D changes), and %s takes appended rows only. Operators that take updates: filter, select, with_columns, group_by (with count, sum, mean, min, max, first, last, n_unique), joins on keys, the streaming top-N (top_k with per=, ROW_NUMBER() top-N), write_parquet (which writes the changes), write_parquet_snapshot (which writes the table they make); see docs/changelog.md", ln.name, from.changelog, agg.OpColumn, ln.op)
}

// opColumnBound is the reference to an updating input's op column that select keeps.
func opColumnBound(in *arrow.Schema) (expr.Bound, bool) {
	idx := in.FieldIndices(agg.OpColumn)
	if len(idx) != 1 {
		return expr.Bound{}, false
	}
	f := in.Field(idx[0])
	return expr.Bound{Expr: &expr.ColExpr{Idx: idx[0], Name: f.Name, Dt: f.Type}, Name: f.Name}, true
}

// checkOpColumnExprs refuses select/with_columns expressions that write the op column of an
// updating input (anything but the column itself).
func checkOpColumnExprs(name, from string, out []expr.Bound) error {
	for _, e := range out {
		if e.Name != agg.OpColumn {
			continue
		}
		if c, ok := e.Expr.(*expr.ColExpr); ok && c.Name == agg.OpColumn {
			continue
		}
		return rberr.New(rberr.Plan, "%s: %q is the op column of the changelog of %s and cannot be written; name the column otherwise", name, agg.OpColumn, from)
	}
	return nil
}

// survivingKeys are the changelog keys of a select or with_columns output (its
// expressions out): each input key as the output column that is that column unchanged
// (under its name, or renamed), nil if one is not there (a select may drop one, a
// with_columns overwrite one).
func survivingKeys(out []expr.Bound, keys []string) []string {
	if keys == nil {
		return keys
	}
	kept := make([]string, 0, len(keys))
	for _, k := range keys {
		found := ""
		for _, e := range out {
			if c, ok := e.Expr.(*expr.ColExpr); ok && c.Name == k && (found == "" || e.Name == k) {
				found = e.Name
			}
		}
		if found == "" {
			return nil
		}
		kept = append(kept, found)
	}
	return kept
}
