/* Compiled against capi/riverbed.h alone and linked with the engine library: the header is
 * the contract, so a program that knows nothing else must be able to plan, run and read a
 * job, and get clear errors. Prints "ok" and exits 0 when every check holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riverbed.h"

static int failures = 0;
#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);           \
      fprintf(stderr, "\n");                  \
      failures++;                             \
    }                                         \
  } while (0)

/* 1000 generated rows; the sum of "id" over them is checked against the closed form. */
static const char* kPlan =
    "{\"version\":1,\"root\":{\"op\":\"aggregate\",\"keys\":[],"
    "\"aggs\":[{\"alias\":\"n\",\"args\":[{\"agg\":\"count\"}]},"
    "{\"alias\":\"total\",\"args\":[{\"agg\":\"sum\",\"args\":[{\"col\":\"id\"}]}]}],"
    "\"input\":{\"op\":\"datagen\",\"count\":1000,\"seed\":7,"
    "\"fields\":[{\"name\":\"id\",\"type\":\"int64\",\"kind\":\"sequence\"}]}}}";

int main(void) {
  char* err = NULL;
  CHECK(rb_version() != NULL && strlen(rb_version()) > 0, "rb_version is empty");
  CHECK(rb_plan_version() >= 1, "rb_plan_version = %d", (int)rb_plan_version());

  /* A malformed plan is an RB_PLAN error with a message the caller frees. */
  char* text = NULL;
  rb_status st = rb_plan_explain("{\"version\":1}", NULL, 0, &text, &err);
  CHECK(st == RB_PLAN, "malformed plan gave status %d", (int)st);
  CHECK(err != NULL && strstr(err, "root") != NULL, "malformed plan message: %s", err ? err : "(null)");
  rb_free_string(err);
  err = NULL;

  /* explain of a valid plan */
  st = rb_plan_explain(kPlan, NULL, 0, &text, &err);
  CHECK(st == RB_OK, "explain failed: %s", err ? err : "");
  CHECK(text != NULL && strstr(text, "datagen") != NULL, "explain text lacks the source: %s", text ? text : "(null)");
  rb_free_string(text);
  rb_free_string(err);
  err = NULL;

  /* run it and read the results through the C stream interface */
  uint64_t job = 0;
  st = rb_job_start(kPlan, NULL, 0, &job, &err);
  CHECK(st == RB_OK && job != 0, "start failed (%d): %s", (int)st, err ? err : "");
  rb_free_string(err);
  err = NULL;
  struct ArrowArrayStream stream;
  memset(&stream, 0, sizeof stream);
  st = rb_job_results(job, &stream, &err);
  CHECK(st == RB_OK && stream.release != NULL, "results failed: %s", err ? err : "");
  rb_free_string(err);
  err = NULL;

  struct ArrowSchema schema;
  memset(&schema, 0, sizeof schema);
  CHECK(stream.get_schema(&stream, &schema) == 0, "get_schema failed");
  CHECK(schema.n_children == 2, "result has %lld columns", (long long)schema.n_children);
  if (schema.release) schema.release(&schema);

  long long rows = 0, n = -1, total = -1;
  for (;;) {
    struct ArrowArray batch;
    memset(&batch, 0, sizeof batch);
    int rc = stream.get_next(&stream, &batch);
    CHECK(rc == 0, "get_next failed: %s", stream.get_last_error(&stream));
    if (rc != 0 || batch.release == NULL) break;
    if (batch.length > 0 && batch.n_children == 2) {
      /* int64 columns: buffers[1] holds the values */
      const int64_t* nv = (const int64_t*)batch.children[0]->buffers[1];
      const int64_t* tv = (const int64_t*)batch.children[1]->buffers[1];
      n = nv[batch.children[0]->offset];
      total = tv[batch.children[1]->offset];
    }
    rows += batch.length;
    batch.release(&batch);
  }
  stream.release(&stream);
  CHECK(rows == 1, "expected one result row, got %lld", rows);
  CHECK(n == 1000, "count = %lld, want 1000", n);
  /* a datagen sequence counts 0, 1, 2, ... */
  CHECK(total == 999LL * 1000 / 2, "sum = %lld, want %lld", total, 999LL * 1000 / 2);

  int64_t progress[9] = {0};
  st = rb_job_progress(job, progress, &err);
  CHECK(st == RB_OK, "progress failed: %s", err ? err : "");
  rb_free_string(err);
  err = NULL;
  st = rb_job_free(job, &err);
  CHECK(st == RB_OK, "free failed: %s", err ? err : "");
  rb_free_string(err);
  err = NULL;

  /* A plan with two outputs sharing one generator (referenced by id): rb_job_next gives
   * every batch with its output index; the sum of "id" goes to output 0, its row count to
   * output 1. */
  static const char* kTwo =
      "{\"version\":1,\"outputs\":["
      "{\"op\":\"aggregate\",\"keys\":[],\"aggs\":[{\"alias\":\"total\",\"args\":[{\"agg\":\"sum\",\"args\":[{\"col\":\"id\"}]}]}],"
      "\"input\":{\"op\":\"datagen\",\"id\":\"g\",\"count\":1000,\"seed\":7,"
      "\"fields\":[{\"name\":\"id\",\"type\":\"int64\",\"kind\":\"sequence\"}]}},"
      "{\"op\":\"aggregate\",\"keys\":[],\"aggs\":[{\"alias\":\"n\",\"args\":[{\"agg\":\"count\"}]}],"
      "\"input\":{\"ref\":\"g\"}}]}";
  job = 0;
  st = rb_job_start(kTwo, NULL, 0, &job, &err);
  CHECK(st == RB_OK && job != 0, "start of two outputs failed (%d): %s", (int)st, err ? err : "");
  rb_free_string(err);
  err = NULL;
  long long got[2] = {-1, -1};
  int batches = 0;
  for (;;) {
    int32_t output = -2;
    struct ArrowArray arr;
    struct ArrowSchema sch;
    memset(&arr, 0, sizeof arr);
    memset(&sch, 0, sizeof sch);
    st = rb_job_next(job, &output, &arr, &sch, &err);
    CHECK(st == RB_OK, "rb_job_next failed (%d): %s", (int)st, err ? err : "");
    if (st != RB_OK || output < 0) break;
    CHECK(output <= 1, "batch of output %d", (int)output);
    if (output <= 1 && arr.length == 1 && arr.n_children == 1) {
      got[output] = ((const int64_t*)arr.children[0]->buffers[1])[arr.children[0]->offset];
    }
    batches++;
    arr.release(&arr);
    sch.release(&sch);
  }
  rb_free_string(err);
  err = NULL;
  CHECK(batches == 2, "two outputs gave %d batches", batches);
  CHECK(got[0] == 999LL * 1000 / 2, "output 0 sum = %lld", got[0]);
  CHECK(got[1] == 1000, "output 1 count = %lld", got[1]);
  /* once read with rb_job_next, the results cannot also be taken as a stream */
  memset(&stream, 0, sizeof stream);
  st = rb_job_results(job, &stream, &err);
  CHECK(st == RB_INVALID_ARGUMENT, "rb_job_results after rb_job_next gave %d", (int)st);
  rb_free_string(err);
  err = NULL;
  st = rb_job_free(job, &err);
  CHECK(st == RB_OK, "free failed: %s", err ? err : "");
  rb_free_string(err);
  err = NULL;

  /* A reference to an unknown id is a plan error naming it. */
  st = rb_plan_explain("{\"version\":1,\"root\":{\"ref\":\"nope\"}}", NULL, 0, &text, &err);
  CHECK(st == RB_PLAN && err != NULL && strstr(err, "nope") != NULL, "bad ref gave %d: %s", (int)st, err ? err : "");
  rb_free_string(err);
  err = NULL;

  /* A NULL output pointer is an argument error, not a crash. */
  st = rb_plan_explain(kPlan, NULL, 0, NULL, &err);
  CHECK(st == RB_INVALID_ARGUMENT, "explain without text_out gave %d", (int)st);
  rb_free_string(err);
  err = NULL;

  /* A handle that does not exist is an error, not a crash. */
  st = rb_job_cancel(987654321u, &err);
  CHECK(st != RB_OK && err != NULL, "cancel of an unknown job gave %d", (int)st);
  rb_free_string(err);

  if (failures) return 1;
  printf("ok\n");
  return 0;
}
