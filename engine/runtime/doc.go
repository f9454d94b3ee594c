// Package runtime owns how a physical graph runs. It holds the interfaces every operator
// implements (Operator, Emitter, with BaseOp's defaults), the messages that flow between
// subtasks (batches, split markers, watermarks, idleness, end of input), tasks and their
// channels (runtime.go), exchanges and the job's byte budget (exchange.go), the physical
// graph of stages and edges (graph.go), source event-time settings (eventtime.go),
// per-operator metrics (metrics.go), whether operators may spill the rows they hold
// (spill.go), and the running Job: launching its tasks, its results, progress, stop and
// cancel (jobrun.go).
//
// The runtime is push-based: each subtask is a goroutine reading one bounded channel per
// input (upstream subtask of an input edge), in which batches and control messages travel
// in order, so a slow operator backpressures its sources and a bounded input is simply one
// that ends with the final watermark. A subtask can stop reading one input while it reads
// the others (TaskCtx.BlockInput), and control messages (MsgControl) flow in band through
// operators that do not handle them: the hooks aligned checkpoint barriers need.
package runtime
