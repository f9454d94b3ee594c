package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/kafka"
)

// Delivery guarantees of the Kafka sink, with Flink's names (kafka.ParseGuarantee).
const (
	AtLeastOnce = kafka.AtLeastOnce
	ExactlyOnce = kafka.ExactlyOnce
	NoGuarantee = kafka.NoGuarantee
)

// KafkaSummarySchema is what a write_kafka job returns: one row per subtask, the rows it
// wrote and the Kafka records they made (one per row; one per batch in format arrow; a
// -U row of an upsert write makes none).
var KafkaSummarySchema = arrow.NewSchema([]arrow.Field{
	{Name: "topic", Type: arrow.BinaryTypes.String},
	{Name: "rows", Type: arrow.PrimitiveTypes.Int64},
	{Name: "records", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// KafkaSinkConfig is what every subtask of one write_kafka sink shares.
type KafkaSinkConfig struct {
	Brokers []string
	Topic   string
	Schema  *arrow.Schema // of the batches written
	Encoder kafka.EncoderOptions
	// Key, if set, computes each record's key from the batch (the encoder's KeyType is
	// its type).
	Key       expr.Expr
	Guarantee string
	// Prefix of the transactional ids (exactly-once): prefix-subtask-n, where n is the
	// id of the checkpoint that pre-commits the transaction (1 + the last checkpoint).
	Prefix     string
	Opts       []kgo.Opt
	TxnTimeout time.Duration
	// DeliveryTimeout fails a record not delivered by then (delivery.timeout.ms).
	DeliveryTimeout time.Duration
	Parallel        int
	// Upsert: Schema is a changelog whose column OpCol is the op; the encoder is for the
	// other columns (ValueSchema), see upsert.go.
	Upsert      bool
	OpCol       int
	ValueSchema *arrow.Schema
	// LoneRetracts: a filter may have dropped the +U after a -U (upsert.go), so a -U is a
	// tombstone unless a +U of its key follows in the batch.
	LoneRetracts bool
	// Timed: TimeCol is the event time column of Schema, and each record's Kafka
	// timestamp is its row's event time, as Flink's KafkaSink writes the element's
	// timestamp (a record of many rows, format arrow, keeps the time of its writing).
	Timed   bool
	TimeCol int
	// Partitioner is the sink partitioner (kafka.SinkPartitioner): "" or "default",
	// "fixed", "round-robin".
	Partitioner string

	initOnce    sync.Once
	restored    chan struct{} // closed once subtask 0 has restored (RestoreCheckpoint)
	restoreOnce sync.Once
	restoredID  uint64 // written before restored is closed
	freshOnce   sync.Once
	freshErr    error
	restoreErr  error
}

func (c *KafkaSinkConfig) restoredChan() chan struct{} {
	c.initOnce.Do(func() { c.restored = make(chan struct{}) })
	return c.restored
}

// KafkaSinkOp writes its subtask's batches to a Kafka topic.
//
//   - "none": records are produced asynchronously and flushed at the end.
//   - "at-least-once": also flushed at every checkpoint (PrepareCheckpoint), so a
//     checkpoint completes only when everything before it is acknowledged by all
//     in-sync replicas; a failed write fails the job.
//   - "exactly-once": Kafka transactions (kafka.TxnProducer), one per subtask and
//     checkpoint interval: pre-committed at the checkpoint barrier (its PendingTxn stored
//     in the checkpoint), committed when the checkpoint is complete; after a restore, the
//     restored checkpoint's transactions are committed (CommitPending) and later ones
//     aborted (AbortLingering, and AbortOpen for any other transaction of the prefix
//     still open; a job that restores no checkpoint runs AbortOpen before its first
//     transaction). A job without checkpoints writes one transaction per
//     subtask, committed when the whole job has succeeded (runtime.Committer) and
//     aborted if it fails, so read_committed consumers see the output only then.
type KafkaSinkOp struct {
	runtime.BaseOp
	Cfg     *KafkaSinkConfig
	Subtask int

	enc           *kafka.Encoder
	opts          []kgo.Opt // the client options, with the subtask's partitioner
	mem           memory.Allocator
	ec            *expr.EvalCtx
	cl            *kgo.Client // none, at-least-once
	ctx           context.Context
	rows, records int64 // written so far
	// deliveryCtx's current context, when it was made, and the cancels of those made
	dctx    context.Context
	dctxAt  time.Time
	cancels []context.CancelFunc
	times   []int64 // event times of a batch, microseconds

	mu      sync.Mutex
	err     error                         // first failed asynchronous produce
	txn     *kafka.TxnProducer            // exactly-once: the open transaction
	next    uint64                        // its number (the checkpoint that will pre-commit it)
	pending map[uint64]*kafka.TxnProducer // pre-committed, by checkpoint id
	final   *kafka.TxnProducer            // pre-committed at the end, committed with the job
	finalPT kafka.PendingTxn              // final's committable
	// uncommitted: the committables of transactions pre-committed at a checkpoint and not
	// yet committed, by checkpoint id. Every checkpoint stores them all (as Flink's
	// committer state): a checkpoint may complete while the transactions of the one
	// before are still being committed, and a restore from it must commit them too.
	uncommitted map[uint64][]kafka.PendingTxn
}

var (
	_ runtime.CheckpointHook = (*KafkaSinkOp)(nil)
	_ runtime.Committer      = (*KafkaSinkOp)(nil)
)

func (o *KafkaSinkOp) Open(tc *runtime.TaskCtx) error {
	c := o.Cfg
	o.ctx, o.mem, o.ec = tc.Ctx, tc.Eval.Mem, tc.Eval
	schema := c.Schema
	if c.Upsert {
		schema = c.ValueSchema
	}
	encOpts := c.Encoder
	if encOpts.Format == kafka.Avro && encOpts.AvroRegistry != "" {
		// Register the rows' schema under the topic's value subject (or find it there).
		text := encOpts.AvroSchema
		if text == "" {
			var err error
			if text, err = kafka.AvroSchemaOf(schema, kafka.AvroRecordName); err != nil {
				return err
			}
		}
		reg, err := kafka.Registry(encOpts.AvroRegistry)
		if err != nil {
			return err
		}
		subject, err := kafka.SubjectName(encOpts.AvroSubjectStrategy, c.Topic, text)
		if err != nil {
			return err
		}
		if encOpts.AvroSchemaID, err = reg.Register(subject, text); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "write_kafka: registering the schema of subject %q", subject)
		}
	}
	enc, err := kafka.NewEncoder(schema, encOpts)
	if err != nil {
		return err
	}
	o.enc = enc
	// As the Java producer: a topic that does not exist is created when the broker
	// allows it (auto.create.topics.enable), else the write fails naming it.
	o.opts = append([]kgo.Opt{kgo.AllowAutoTopicCreation()}, c.Opts...)
	if c.DeliveryTimeout > 0 && !c.Timed {
		// The client's own timeout counts from each record's timestamp: only when that
		// is the time of writing (with event times, deliveryCtx bounds delivery).
		o.opts = append(o.opts, kgo.RecordDeliveryTimeout(c.DeliveryTimeout))
	}
	part, err := kafka.SinkPartitioner(c.Partitioner, o.Subtask)
	if err != nil {
		return err
	}
	if part != nil {
		o.opts = append(o.opts, kgo.RecordPartitioner(part))
	}
	o.pending = map[uint64]*kafka.TxnProducer{}
	o.uncommitted = map[uint64][]kafka.PendingTxn{}
	o.next = 1
	switch c.Guarantee {
	case ExactlyOnce:
	case AtLeastOnce, NoGuarantee:
		opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.DefaultProduceTopic(c.Topic)}
		if c.Guarantee == NoGuarantee {
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		}
		if o.cl, err = kgo.NewClient(append(opts, o.opts...)...); err != nil {
			return rberr.Wrap(rberr.InvalidArgument, err, "write_kafka")
		}
	default:
		return rberr.New(rberr.Plan, "write_kafka: unknown delivery guarantee %q", c.Guarantee)
	}
	tc.Job.AddCommitter(o)
	return nil
}

func (o *KafkaSinkOp) fail(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not delivered within delivery.timeout.ms (%s) to %s", o.Cfg.DeliveryTimeout, strings.Join(o.Cfg.Brokers, ","))
		}
		o.err = rberr.Wrap(rberr.IO, err, "write_kafka: producing to topic %q", r.Topic)
	}
}

func (o *KafkaSinkOp) firstErr() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *KafkaSinkOp) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	defer m.Rec.Release()
	if m.Rec.NumRows() == 0 {
		return nil
	}
	var recs []*kgo.Record
	var rows []int32 // the row of each record, when not one record a row
	var err error
	if o.Cfg.Upsert {
		recs, rows, err = UpsertRecords(o.ec, o.enc, o.Cfg.ValueSchema, m.Rec, o.Cfg.OpCol, o.Cfg.LoneRetracts)
	} else if o.Cfg.Key != nil {
		recs, err = o.encodeKeyed(m.Rec)
	} else {
		recs, err = o.enc.Encode(m.Rec)
	}
	if err != nil {
		return err
	}
	if o.Cfg.Timed && (rows != nil || int64(len(recs)) == m.Rec.NumRows()) {
		o.times = expr.EventTimes(m.Rec.Column(o.Cfg.TimeCol), o.times)
		for i, r := range recs {
			row := i
			if rows != nil {
				row = int(rows[i])
			}
			if t := o.times[row]; t != math.MinInt64 {
				r.Timestamp = time.UnixMicro(t)
			}
		}
	}
	o.records += int64(len(recs))
	if o.Cfg.Upsert {
		o.rows += int64(len(recs))
	} else {
		o.rows += m.Rec.NumRows()
	}
	if o.Cfg.Guarantee == ExactlyOnce {
		if err := o.begin(); err != nil {
			return err
		}
		if err := o.txn.Err(); err != nil {
			return err
		}
		o.txn.Produce(o.deliveryCtx(), recs...)
		return nil
	}
	if err := o.firstErr(); err != nil {
		return err
	}
	ctx := o.deliveryCtx()
	for _, r := range recs {
		o.cl.Produce(ctx, r, o.fail)
	}
	return nil
}

// deliveryCtx is the context records are produced with: with event times as record
// timestamps, one whose deadline is the delivery timeout from now (a new one each second,
// for the records of that second; their timers end with them), else the sink's own.
func (o *KafkaSinkOp) deliveryCtx() context.Context {
	c := o.Cfg
	if !c.Timed || c.DeliveryTimeout <= 0 {
		return o.ctx
	}
	now := time.Now()
	if o.dctx == nil || now.Sub(o.dctxAt) >= time.Second {
		ctx, cancel := context.WithTimeout(o.ctx, c.DeliveryTimeout)
		o.dctx, o.dctxAt = ctx, now
		o.cancels = append(o.cancels, cancel)
		// Contexts past their deadline hold no timer: let them go.
		if n := int(c.DeliveryTimeout/time.Second) + 2; len(o.cancels) > n {
			for _, f := range o.cancels[:len(o.cancels)-n] {
				f()
			}
			o.cancels = append(o.cancels[:0], o.cancels[len(o.cancels)-n:]...)
		}
	}
	return o.dctx
}

// encodeKeyed encodes rec with the keys the key expression computes from it.
func (o *KafkaSinkOp) encodeKeyed(rec arrow.RecordBatch) ([]*kgo.Record, error) {
	d, err := o.Cfg.Key.Eval(o.ec, rec)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "write_kafka: the key %s", o.Cfg.Key)
	}
	keys, err := expr.DatumToArray(o.ec, d, int(rec.NumRows()))
	if err != nil {
		return nil, err
	}
	defer keys.Release()
	return o.enc.EncodeKeyed(rec, keys)
}

// begin opens the transaction of the current checkpoint interval, if none is open.
func (o *KafkaSinkOp) begin() error {
	if o.txn != nil {
		return nil
	}
	c := o.Cfg
	if err := c.abortOpenAtFreshStart(); err != nil {
		return err
	}
	id := kafka.TransactionalID(c.Prefix, o.Subtask, int64(o.next))
	p, err := kafka.NewTxnProducer(kafka.TxnOptions{Brokers: c.Brokers, TransactionalID: id, DefaultTopic: c.Topic,
		TransactionTimeout: c.TxnTimeout, ClientOptions: o.opts})
	if err != nil {
		return err
	}
	if err := p.Begin(); err != nil {
		p.Close()
		return err
	}
	o.txn = p
	return nil
}

func (o *KafkaSinkOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }
func (o *KafkaSinkOp) ProcessWatermark(int64, runtime.Emitter) error        { return nil }

// Finish flushes (none, at-least-once) or pre-commits the last transaction
// (exactly-once; the job commits it) and emits the subtask's summary row.
func (o *KafkaSinkOp) Finish(out runtime.Emitter) error {
	if o.Cfg.Guarantee == ExactlyOnce {
		if o.txn != nil {
			pt, err := o.txn.PreCommit(o.ctx)
			if err != nil {
				return err
			}
			o.mu.Lock()
			o.final, o.txn, o.finalPT = o.txn, nil, pt
			o.mu.Unlock()
		}
	} else {
		if err := o.cl.Flush(o.ctx); err != nil {
			return rberr.Wrap(rberr.IO, err, "write_kafka: flush")
		}
		if err := o.firstErr(); err != nil {
			return err
		}
	}
	tb := array.NewStringBuilder(o.mem)
	defer tb.Release()
	rb := array.NewInt64Builder(o.mem)
	defer rb.Release()
	tb.Append(o.Cfg.Topic)
	rb.Append(o.rows)
	rb.Append(o.records)
	t, n := tb.NewArray(), rb.NewArray()
	defer t.Release()
	defer n.Release()
	r, c := array.NewSlice(n, 0, 1), array.NewSlice(n, 1, 2)
	defer r.Release()
	defer c.Release()
	return out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: array.NewRecordBatch(KafkaSummarySchema, []arrow.Array{t, r, c}, 1), Seq: runtime.SeqUnordered})
}

// Close flushes what is still buffered (none, at-least-once) unless the job failed or
// was cancelled: a job stopped without drain does not finish its sinks, and its records
// must not be dropped with the client.
func (o *KafkaSinkOp) Close() {
	defer func() {
		for _, f := range o.cancels {
			f()
		}
		o.cancels = nil
	}()
	if o.cl == nil {
		return
	}
	if o.ctx != nil && o.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(o.ctx, 2*time.Minute)
		if err := o.cl.Flush(ctx); err != nil {
			o.mu.Lock()
			if o.err == nil {
				o.err = rberr.Wrap(rberr.IO, err, "write_kafka: flush")
			}
			o.mu.Unlock()
		}
		cancel()
	}
	o.cl.Close()
}

// Commit commits the transaction pre-committed at the end (exactly-once), once the job
// has succeeded (none, at-least-once: it reports a record that failed when Close flushed
// the last ones). A job stopped without drain did not finish its sinks: the transaction
// still open is committed here, as the Parquet sink commits its files (the job commits
// its sinks at its end only when its checkpoints, if any, cover what they got: see
// runtime.Job.Stop).
func (o *KafkaSinkOp) Commit() error {
	if o.Cfg.Guarantee != ExactlyOnce {
		return o.firstErr() // a record that Close flushed and the broker refused
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.mu.Lock()
	p, open := o.final, o.txn
	o.final, o.txn = nil, nil
	o.mu.Unlock()
	if open != nil {
		if _, err := open.PreCommit(ctx); err != nil {
			_ = open.Abort(ctx)
			open.Close()
			if p != nil {
				_ = p.Abort(ctx)
				p.Close()
			}
			return err
		}
	}
	var first error
	for _, t := range []*kafka.TxnProducer{p, open} {
		if t == nil {
			continue
		}
		if err := t.Commit(ctx); err != nil && first == nil {
			first = err
		}
		t.Close()
	}
	return first
}

// Abort aborts every transaction the subtask has open or pre-committed and not
// committed, after a failed job.
func (o *KafkaSinkOp) Abort() {
	o.mu.Lock()
	ps := []*kafka.TxnProducer{o.txn, o.final}
	for _, p := range o.pending {
		ps = append(ps, p)
	}
	o.txn, o.final, o.pending = nil, nil, map[uint64]*kafka.TxnProducer{}
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range ps {
		if p != nil {
			_ = p.Abort(ctx)
			p.Close()
		}
	}
}

// kafkaCheckpoint is what a subtask stores in a checkpoint.
type kafkaCheckpoint struct {
	Checkpoint uint64             `json:"checkpoint"`
	Subtask    int                `json:"subtask"`
	Pending    []kafka.PendingTxn `json:"pending,omitempty"`
}

// PrepareCheckpoint flushes (at-least-once) or pre-commits the open transaction
// (exactly-once) and returns what a restore needs to commit it.
func (o *KafkaSinkOp) PrepareCheckpoint(b runtime.Barrier) ([]byte, error) {
	ck := kafkaCheckpoint{Checkpoint: b.ID, Subtask: o.Subtask}
	switch o.Cfg.Guarantee {
	case ExactlyOnce:
		if o.txn != nil {
			pt, err := o.txn.PreCommit(o.ctx)
			if err != nil {
				return nil, err
			}
			o.mu.Lock()
			o.pending[b.ID] = o.txn
			o.uncommitted[b.ID] = append(o.uncommitted[b.ID], pt)
			o.txn = nil
			o.mu.Unlock()
		}
		if b.Final {
			// The subtask has finished (checkpoints after tasks finish): its last
			// transaction belongs to this checkpoint and commits with it, so that a
			// crash before the job's end commit does not leave it to the timeout.
			o.mu.Lock()
			if o.final != nil {
				o.pending[b.ID] = o.final
				o.uncommitted[b.ID] = append(o.uncommitted[b.ID], o.finalPT)
				o.final = nil
			}
			o.mu.Unlock()
		}
		o.mu.Lock()
		ck.Pending = o.uncommittedUpTo(b.ID)
		o.mu.Unlock()
		o.next = b.ID + 1
	case AtLeastOnce:
		if err := o.cl.Flush(o.ctx); err != nil {
			return nil, rberr.Wrap(rberr.IO, err, "write_kafka: flush")
		}
		if err := o.firstErr(); err != nil {
			return nil, err
		}
	}
	return json.Marshal(ck)
}

// uncommittedUpTo returns the committables of the transactions pre-committed at
// checkpoint id or before and not known to be committed, oldest first; called with o.mu
// held.
func (o *KafkaSinkOp) uncommittedUpTo(id uint64) []kafka.PendingTxn {
	var ids []uint64
	for c := range o.uncommitted {
		if c <= id {
			ids = append(ids, c)
		}
	}
	slices.Sort(ids)
	var out []kafka.PendingTxn
	for _, c := range ids {
		out = append(out, o.uncommitted[c]...)
	}
	return out
}

// CheckpointComplete commits the transactions pre-committed at checkpoint id or before.
// Their committables stay in every checkpoint taken meanwhile until the commits succeed.
func (o *KafkaSinkOp) CheckpointComplete(id uint64) error {
	o.mu.Lock()
	var due []uint64
	for c := range o.pending {
		if c <= id {
			due = append(due, c)
		}
	}
	ps := make([]*kafka.TxnProducer, len(due))
	for i, c := range due {
		ps[i] = o.pending[c]
		delete(o.pending, c)
	}
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var first error
	for _, p := range ps {
		if err := p.Commit(ctx); err != nil && first == nil {
			first = err
		}
		p.Close()
	}
	if first == nil {
		o.mu.Lock()
		for _, c := range due {
			delete(o.uncommitted, c)
		}
		o.mu.Unlock()
	}
	return first
}

// RestoreCheckpoint (exactly-once): subtask 0 gets every subtask's part of the restored
// checkpoint. It commits their pre-committed transactions and aborts the transactions
// any subtask (of the old, the new or an intermediate parallelism) may have opened after
// that checkpoint;
// the other subtasks (parts nil) wait here until it is done, then number their
// transactions after the restored checkpoint.
func (o *KafkaSinkOp) RestoreCheckpoint(parts [][]byte) error {
	c := o.Cfg
	if c.Guarantee != ExactlyOnce {
		return nil
	}
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	done := c.restoredChan()
	if parts != nil || o.Subtask == 0 {
		c.restoreOnce.Do(func() {
			c.restoreErr = o.restore(parts)
			close(done)
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return rberr.New(rberr.Internal, "write_kafka: subtask %d waited 5 minutes for subtask 0 to restore the sink's transactions", o.Subtask)
	}
	if c.restoreErr != nil {
		return c.restoreErr
	}
	o.next = max(o.next, c.restoredID+1)
	return nil
}

func (o *KafkaSinkOp) restore(parts [][]byte) error {
	c := o.Cfg
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.Opts...)...)
	if err != nil {
		return rberr.Wrap(rberr.InvalidArgument, err, "write_kafka")
	}
	defer cl.Close()
	var restored uint64
	oldParallel := len(parts)
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		var ck kafkaCheckpoint
		if err := json.Unmarshal(p, &ck); err != nil {
			return rberr.Wrap(rberr.Data, err, "write_kafka: restoring a checkpoint")
		}
		restored = max(restored, ck.Checkpoint)
		oldParallel = max(oldParallel, ck.Subtask+1)
		for _, t := range ck.Pending {
			if err := kafka.CommitPending(ctx, cl, t); err != nil {
				return err
			}
		}
	}
	for j := 0; j < max(oldParallel, c.Parallel); j++ {
		if _, err := kafka.AbortLingering(ctx, cl, c.Prefix, j, int64(restored)+1); err != nil {
			return err
		}
	}
	// Probing looks at the subtasks of the restored run and of this one; a run between
	// them (restored from the same checkpoint, killed before its next one completed) may
	// have had more, and their transactions would stay open until the timeout.
	if _, err := kafka.AbortOpen(ctx, cl, c.Prefix); err != nil {
		return err
	}
	c.restoredID = restored
	return nil
}

// abortOpenAtFreshStart runs before the job's first transaction: if the job restored no
// checkpoint of the sink, it aborts every transaction of the prefix still open
// (kafka.AbortOpen), left by a run that was killed before it completed a checkpoint,
// perhaps at a higher parallelism. A restore has done its own aborting by then
// (RestoreCheckpoint runs before any input, and the other subtasks wait for it).
func (c *KafkaSinkConfig) abortOpenAtFreshStart() error {
	c.freshOnce.Do(func() {
		if c.restoredID != 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.Opts...)...)
		if err != nil {
			c.freshErr = rberr.Wrap(rberr.InvalidArgument, err, "write_kafka")
			return
		}
		defer cl.Close()
		_, c.freshErr = kafka.AbortOpen(ctx, cl, c.Prefix)
	})
	return c.freshErr
}

func (o *KafkaSinkOp) String() string { return fmt.Sprintf("write_kafka(%s)", o.Cfg.Topic) }
