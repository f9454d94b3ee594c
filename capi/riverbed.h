/* riverbed C ABI — the contract between the engine (a Go shared library) and its callers.
 *
 * Conventions
 * - Every function returns an rb_status: 0 (RB_OK) or the kind of the error. On error,
 *   if err_out is not NULL, *err_out receives a NUL-terminated message that the caller
 *   owns and frees with rb_free_string.
 * - Jobs are opaque handles (uint64_t, never 0). A handle stays valid until rb_job_free.
 * - Arrow data crosses through the Arrow C Data / C Stream Interfaces. Structs passed in
 *   are MOVED into the engine (left released; the caller must not release them again),
 *   whether or not the call succeeds. Structs filled by the engine must be zero-initialized
 *   by the caller and are released by the caller through their release callback.
 * - Functions may block (rb_job_* streams); none of them calls back into the caller except
 *   through Arrow stream callbacks of inputs the caller provided.
 * - After an internal error (a Go panic) in an API call the library refuses further calls
 *   with RB_INTERNAL: its state may be inconsistent. A panic in a call that only validates
 *   (rb_plan_schema, rb_plan_explain) fails only that call; a panic inside a running job
 *   (an operator, a source, the job's result stream) fails only that job.
 * - Arrow data imported from the caller is checked before use (offsets, child lengths,
 *   dictionary indexes); a malformed batch fails the job with RB_DATA. Buffer sizes cannot
 *   be checked (the C Data Interface carries none): producers must export batches that
 *   match the stream's schema.
 */
#ifndef RIVERBED_H
#define RIVERBED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
  int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
  const char* (*get_last_error)(struct ArrowArrayStream*);
  void (*release)(struct ArrowArrayStream*);
  void* private_data;
};
#endif

typedef int32_t rb_status;
#define RB_OK 0
#define RB_INTERNAL 1          /* a bug in riverbed, including a recovered panic */
#define RB_PLAN 2              /* malformed or unsupported plan */
#define RB_COLUMN_NOT_FOUND 3
#define RB_TYPE 4              /* type mismatch in an expression or aggregation */
#define RB_SCHEMA 5            /* incompatible schemas */
#define RB_NOT_FOUND 6         /* missing file, directory or empty glob */
#define RB_DATA 7              /* corrupt or unreadable input data */
#define RB_IO 8
#define RB_CANCELLED 9
#define RB_USER_FUNCTION 10
#define RB_INVALID_ARGUMENT 11

/* The engine version, e.g. "0.1.0". Static; do not free. */
const char* rb_version(void);

/* The plan document version this engine reads. */
int32_t rb_plan_version(void);

/* Frees a string returned by the engine. NULL is allowed. */
void rb_free_string(char* s);

/* Validates plan_json against the input schemas (one per scan_arrow source; each is moved)
 * and writes the result schema to *out (zero-initialized; the caller releases it). */
rb_status rb_plan_schema(const char* plan_json, struct ArrowSchema** inputs, int32_t n_inputs,
                         struct ArrowSchema* out, char** err_out);

/* Validates a plan and describes its logical and physical form in *text_out (free with
 * rb_free_string). Input schemas are moved, as for rb_plan_schema. */
rb_status rb_plan_explain(const char* plan_json, struct ArrowSchema** inputs, int32_t n_inputs,
                          char** text_out, char** err_out);

/* Compiles a Flink-dialect SQL query (docs/sql.md) over registered tables. tables_json is
 * {"names": [...], "plan": <plan document whose "outputs" are the tables' plans, in the order
 * of names>} (or {"names": []}); inputs are the schemas of that plan's scan_arrow sources
 * (moved, as for rb_plan_schema). On success *plan_out is the JSON plan node of the query
 * (free with rb_free_string), in which table i appears as {"ref": "$table:i"} and a node
 * used twice is written once with an "id" and then as {"ref": id}. Errors give the SQL line
 * and column. */
rb_status rb_sql_plan(const char* query, const char* tables_json, struct ArrowSchema** inputs,
                      int32_t n_inputs, char** plan_out, char** err_out);

/* Validates and starts a job. inputs are the streams its scan_arrow sources read; they are
 * moved into the engine (also on error). On success *job_out is the job handle. The plan's
 * options may set "buffer_bytes": the most bytes of batches queued in the job's channels
 * and unread results (default 64 MiB; an empty queue always takes one batch). A source
 * stream's get_next may block: cancelling or stopping the job does not wait for it (the
 * stream is released once its pending get_next returns). */
rb_status rb_job_start(const char* plan_json, struct ArrowArrayStream** inputs, int32_t n_inputs,
                       uint64_t* job_out, char** err_out);

/* Exports the job's results as a stream into *out (zero-initialized; the caller releases
 * it). May be called once per job. A job error surfaces from the stream's get_next, with
 * its message from get_last_error; rb_job_error then gives its status. */
rb_status rb_job_results(uint64_t job, struct ArrowArrayStream* out, char** err_out);

/* Reads the next result batch of a job, of any of its outputs (a plan with "outputs"
 * gives several): *output_out is the index of its output and the batch is exported into
 * *array_out and *schema_out (zero-initialized; the caller releases both). After the last
 * batch it returns RB_OK with *output_out = -1 and exports nothing. All outputs share one
 * queue, so reading batches in the order they come never deadlocks between outputs. Blocks
 * until a batch is ready; call it from one thread at a time. A job's results are read
 * either with rb_job_results or with rb_job_next, not both. A job error is returned as its
 * status and message. */
rb_status rb_job_next(uint64_t job, int32_t* output_out, struct ArrowArray* array_out,
                      struct ArrowSchema* schema_out, char** err_out);

/* Progress counters: out[0] rows read, [1] rows out, [2] splits done, [3] splits pruned,
 * [4] files done, [5] total rows, [6] total splits, [7] total files, [8] 1 when ended. */
rb_status rb_job_progress(uint64_t job, int64_t out[9], char** err_out);

/* The job's error, once it has ended: RB_OK if it succeeded or is still running. */
rb_status rb_job_error(uint64_t job, char** err_out);

/* Asks the job to stop; its stream then ends with RB_CANCELLED. */
rb_status rb_job_cancel(uint64_t job, char** err_out);

/* Asks the sources to stop; the job then ends cleanly (the call does not wait). With
 * drain != 0 the end of input fires every pending window (as if the input had ended) and,
 * with checkpoints on, a final checkpoint commits everything the sinks got. Otherwise,
 * with checkpoints on, the job stops at a checkpoint (pending windows in its state; if it
 * fails, at once, committing nothing after the last checkpoint); without checkpoints
 * pending windows are dropped. */
rb_status rb_job_stop(uint64_t job, int32_t drain, char** err_out);

/* Per-operator metrics as a JSON document in *json_out (free with rb_free_string):
 * {"operators": [{"stage", "index", "operator", "parallelism", "records_in", "batches_in",
 *   "records_out", "batches_out", "late_records", "windows_fired", "watermark" (µs since
 *   the epoch), "backpressure_ns"}, ...], "unbounded": bool} */
rb_status rb_job_metrics(uint64_t job, char** json_out, char** err_out);
/* The metrics document also has "checkpoints": {"completed", "failed", "in_progress",
 * "last_id", "last_duration_ms", "last_size_bytes", "last_failure"}. */

/* Checkpoints and savepoints (docs/fault-tolerance.md). Each call waits until the
 * checkpoint or savepoint is durable and returns its record as JSON in *json_out (free with
 * rb_free_string): {"id", "kind" ("checkpoint" | "savepoint"), "path", "time_unix_ms",
 * "duration_ms", "size_bytes", "state_bytes": {operator id: bytes}}. A failed or refused
 * one (checkpoints off, every source ended, a live Python input) is an error; the job
 * goes on running. */

/* Takes a checkpoint now (the job's plan must set checkpoint_dir). */
rb_status rb_job_checkpoint(uint64_t job, char** json_out, char** err_out);

/* Writes a savepoint into the directory path (which must not exist or be empty). With
 * stop != 0 the sources stop after the savepoint's barrier and the job ends cleanly, its
 * sinks committing, without firing pending windows (stop-with-savepoint); if the savepoint
 * fails the job goes on. */
rb_status rb_job_savepoint(uint64_t job, const char* path, int32_t stop, char** json_out, char** err_out);

/* The checkpoints and savepoints the job has completed, oldest first, as a JSON array of
 * the records above in *json_out (free with rb_free_string). */
rb_status rb_job_checkpoints(uint64_t job, char** json_out, char** err_out);

/* Reading the state of a checkpoint or savepoint directory (verified against its manifest
 * first). rb_snapshot_describe returns, as JSON in *json_out (free with rb_free_string),
 * its kind, id, creation time, max_parallelism, plan fingerprint and its state tables
 * (operator, table, kind, files). rb_snapshot_read exports every row of one table as an
 * Arrow C stream into *out (the caller releases it). Checkpoints of the Pebble backend are
 * in Pebble's own format and cannot be read this way; savepoints always can. Thread-safe. */
rb_status rb_snapshot_describe(const char* path, char** json_out, char** err_out);
rb_status rb_snapshot_read(const char* path, const char* op, const char* table, struct ArrowArrayStream* out,
                           char** err_out);

/* Cancels the job if running, waits for it to end and frees the handle. Must not be called
 * from within one of the job's own user functions (it would wait for itself). */
rb_status rb_job_free(uint64_t job, char** err_out);

/* User functions (map_batches). The host registers one dispatcher; plans name functions
 * by id. The engine calls the dispatcher from its own threads with a batch in in_array /
 * in_schema (the dispatcher takes ownership: it must move or release them) and zeroed
 * out_array / out_schema for the result (the engine takes ownership). It returns 0, or a
 * non-zero status with a message in *err_out allocated with malloc (the engine frees it);
 * the job then fails with RB_USER_FUNCTION and that message. */
typedef int32_t (*rb_udf_fn)(int64_t udf, struct ArrowArray* in_array, struct ArrowSchema* in_schema,
                             struct ArrowArray* out_array, struct ArrowSchema* out_schema, char** err_out);
rb_status rb_set_udf_dispatcher(rb_udf_fn dispatcher, char** err_out);

/* Bytes of Arrow memory the engine currently holds (allocated and not yet freed). */
int64_t rb_allocated_bytes(void);

/* The library the test suite builds (go build -tags riverbed_testhooks) also exports
 * rb_status rb_debug_panic(int32_t where, char** err_out), a hook that panics or fails on
 * request; the library users install does not have it. */

#ifdef __cplusplus
}
#endif
#endif /* RIVERBED_H */
