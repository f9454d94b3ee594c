package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"unsafe"

	"github.com/riverbed-engine/riverbed/arrowbridge"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
	// The Pebble state backend (state_backend="pebble"): imported here, not by the engine,
	// so that only the shared library links Pebble in.
	_ "github.com/riverbed-engine/riverbed/state/pebblestate"
)

// Checkpoints and savepoints of a running job (docs/fault-tolerance.md). Each call waits
// until the checkpoint or savepoint is complete (Python releases the GIL meanwhile) and
// returns its record as JSON in *json_out (free with rb_free_string).

func jsonString(out **C.char, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return rberr.Wrap(rberr.Internal, err, "encoding the result")
	}
	*out = C.CString(string(doc))
	return nil
}

//export rb_job_checkpoint
func rb_job_checkpoint(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null output pointer")
		}
		st, err := e.job.Checkpoint(context.Background())
		if err != nil {
			return err
		}
		return jsonString(jsonOut, st)
	})
}

//export rb_job_savepoint
func rb_job_savepoint(h C.uint64_t, path *C.char, stop C.int32_t, jsonOut **C.char, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if path == nil || jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null path or output pointer")
		}
		dir := C.GoString(path)
		if stop != 0 {
			st, err := e.job.StopWithSavepoint(context.Background(), dir)
			if err != nil {
				return err
			}
			return jsonString(jsonOut, st)
		}
		st, err := e.job.Savepoint(context.Background(), dir)
		if err != nil {
			return err
		}
		return jsonString(jsonOut, st)
	})
}

//export rb_job_checkpoints
func rb_job_checkpoints(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		e, err := lookup(h)
		if err != nil {
			return err
		}
		if jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null output pointer")
		}
		list := e.job.Checkpoints()
		if list == nil {
			list = []engine.CheckpointStats{}
		}
		return jsonString(jsonOut, list)
	})
}

// Reading a checkpoint or savepoint's state as tables (rb.read_savepoint).

//export rb_snapshot_describe
func rb_snapshot_describe(path *C.char, jsonOut **C.char, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		if path == nil || jsonOut == nil {
			return rberr.New(rberr.InvalidArgument, "null path or output pointer")
		}
		cp, tables, err := state.InspectSnapshot(C.GoString(path))
		if err != nil {
			return err
		}
		if tables == nil {
			tables = []state.SnapshotTable{}
		}
		m := cp.Manifest
		splits := 0
		for _, s := range m.Sources {
			if s.Split != "" {
				splits++
			}
		}
		return jsonString(jsonOut, map[string]any{
			"kind": m.Kind, "id": m.ID, "created_unix_ms": m.CreatedUnixMs,
			"max_parallelism": m.Job.MaxParallelism, "plan_fingerprint": m.Job.PlanFingerprint,
			"source_positions": splits, "tables": tables,
		})
	})
}

//export rb_snapshot_read
func rb_snapshot_read(path, op, table *C.char, out unsafe.Pointer, errOut **C.char) C.int32_t {
	return call(errOut, func() error {
		if path == nil || op == nil || table == nil || out == nil {
			return rberr.New(rberr.InvalidArgument, "null path, operator, table or output pointer")
		}
		cp, tables, err := state.InspectSnapshot(C.GoString(path))
		if err != nil {
			return err
		}
		rr, err := state.ReadSnapshotTable(cp, tables, C.GoString(op), C.GoString(table))
		if err != nil {
			return err
		}
		defer rr.Release()
		arrowbridge.ExportStream(rr, out)
		return nil
	})
}
