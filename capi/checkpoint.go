package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"encoding/json"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/internal/rberr"
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
