package engine

import (
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// The plan document, re-exported so that callers of the engine need only this package.
type (
	// Plan is the logical plan as it crosses the C ABI (see package plan).
	Plan = plan.Plan
	// Options tune how a plan runs (see package plan).
	Options = plan.Options

	// Job is a running plan (see package runtime).
	Job = runtime.Job
	// OperatorMetrics are one operator's counters in a job (see package runtime).
	OperatorMetrics = runtime.OperatorMetrics
	// ProgressSnapshot is a copy of a job's progress counters (see package runtime).
	ProgressSnapshot = runtime.ProgressSnapshot
	// CheckpointStats describes a completed checkpoint or savepoint (see package runtime).
	CheckpointStats = runtime.CheckpointStats
)

// PlanVersion is the version of the plan document this engine reads.
const PlanVersion = plan.PlanVersion

// ParsePlan decodes and checks the envelope of a plan document; operator-level checks
// happen in Bind.
func ParsePlan(doc []byte) (*Plan, error) { return plan.ParsePlan(doc) }

// UDFCaller runs the host's user function on a batch (see package udf).
type UDFCaller = udf.UDFCaller

// SetUDFCaller installs the function that calls user functions (map_batches).
func SetUDFCaller(f UDFCaller) { udf.SetUDFCaller(f) }
