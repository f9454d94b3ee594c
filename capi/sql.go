package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"strconv"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/sql"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// rb_sql_plan compiles SQL over registered tables. tables is a JSON document
// {"names": [...], "plan": <plan document whose outputs are the tables, in order>}; inputs
// are the schemas of its scan_arrow sources (released here). On success *jsonOut is the
// plan node of the query (free with rb_free_string), in which each registered table is
// {"ref": "$table:<index>"} and a node used twice is written once with an "id".
//
//export rb_sql_plan
func rb_sql_plan(query *C.char, tables *C.char, inputs **C.void, n C.int32_t, jsonOut **C.char, errOut **C.char) C.int32_t {
	defer releaseSchemas(inputs, n)
	return callPure(errOut, func() error {
		schemas, err := importSchemas(inputs, n)
		if err != nil {
			return err
		}
		if query == nil || tables == nil || jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null query, tables or output pointer")
		}
		var doc struct {
			Names []string        `json:"names"`
			Plan  json.RawMessage `json:"plan"`
		}
		if err := json.Unmarshal([]byte(C.GoString(tables)), &doc); err != nil {
			return rberr.Wrap(rberr.Plan, err, "malformed SQL tables document")
		}
		named := map[string]*plan.Node{}
		leaves := map[*plan.Node]string{}
		if len(doc.Names) > 0 {
			p, err := engine.ParsePlan(doc.Plan)
			if err != nil {
				return err
			}
			if len(p.Outputs) != len(doc.Names) {
				return rberr.New(rberr.InvalidArgument, "%d table names for %d table plans", len(doc.Names), len(p.Outputs))
			}
			for i, name := range doc.Names {
				named[name] = p.Outputs[i]
				leaves[p.Outputs[i]] = "$table:" + strconv.Itoa(i)
			}
		}
		root, err := sql.Compile(C.GoString(query), named, schemas)
		if err != nil {
			return err
		}
		out, err := json.Marshal(sql.Encode(root, leaves))
		if err != nil {
			return rberr.Wrap(rberr.Internal, err, "encoding the SQL plan")
		}
		*jsonOut = C.CString(string(out))
		return nil
	})
}
