package kafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// TransactionalID is the transactional id of one subtask's transaction for
// one checkpoint: prefix-subtask-checkpoint, as Flink's KafkaSink names them.
// A distinct id per checkpoint lets a restore commit the restored
// checkpoint's transaction and abort every later one by id.
func TransactionalID(prefix string, subtask int, checkpoint int64) string {
	return fmt.Sprintf("%s-%d-%d", prefix, subtask, checkpoint)
}

// TxnOptions configure NewTxnProducer.
type TxnOptions struct {
	Brokers         []string
	TransactionalID string
	// TransactionTimeout is how long the broker keeps an open transaction
	// before it aborts it (transaction.timeout.ms; default 15 minutes, the
	// broker's default maximum). It must outlast a checkpoint interval plus a
	// recovery, or a pre-committed transaction is aborted before a restore
	// can commit it.
	TransactionTimeout time.Duration
	// DefaultTopic is the topic of records that name none.
	DefaultTopic string
	// ClientOptions are appended to the franz-go client's options.
	ClientOptions []kgo.Opt
}

// PendingTxn identifies a pre-committed transaction: what a checkpoint
// stores so that a restore can commit it with CommitPending.
type PendingTxn struct {
	TransactionalID string
	ProducerID      int64
	Epoch           int16
}

// TxnProducer writes records in Kafka transactions for the exactly-once
// sink: Begin, Produce any number of times, PreCommit (flush; the checkpoint
// stores the returned PendingTxn), then Commit once the checkpoint is
// complete, or Abort. It is not safe for concurrent use, except Produce.
type TxnProducer struct {
	cl *kgo.Client
	id string

	mu  sync.Mutex
	err error // the first failed produce of the open transaction
}

// NewTxnProducer creates a transactional producer (the producer id is
// initialized by the first Begin; an open transaction of an earlier producer
// with the same id is aborted then).
func NewTxnProducer(opts TxnOptions) (*TxnProducer, error) {
	if len(opts.Brokers) == 0 {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: no brokers given")
	}
	if opts.TransactionalID == "" {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: a transactional producer needs a transactional id")
	}
	if opts.TransactionTimeout == 0 {
		opts.TransactionTimeout = 15 * time.Minute
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.TransactionalID(opts.TransactionalID),
		kgo.TransactionTimeout(opts.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if opts.DefaultTopic != "" {
		kopts = append(kopts, kgo.DefaultProduceTopic(opts.DefaultTopic))
	}
	kopts = append(kopts, opts.ClientOptions...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka")
	}
	return &TxnProducer{cl: cl, id: opts.TransactionalID}, nil
}

// Begin starts a transaction.
func (p *TxnProducer) Begin() error {
	p.mu.Lock()
	p.err = nil
	p.mu.Unlock()
	if err := p.cl.BeginTransaction(); err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: transaction %q: begin", p.id)
	}
	return nil
}

// Produce sends records in the open transaction, asynchronously; a failure
// is returned by PreCommit.
func (p *TxnProducer) Produce(ctx context.Context, recs ...*kgo.Record) {
	for _, r := range recs {
		p.cl.Produce(ctx, r, p.fail)
	}
}

// Err is the first failed produce of the open transaction, if any: the transaction can
// only be aborted then, so a writer fails at once rather than at its next checkpoint (as
// Flink's KafkaWriter checks for an asynchronous error on each write).
func (p *TxnProducer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return rberr.Wrap(rberr.IO, p.err, "kafka: transaction %q", p.id)
	}
	return nil
}

func (p *TxnProducer) fail(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not delivered within delivery.timeout.ms: %w", err)
		}
		p.err = fmt.Errorf("producing to topic %q partition %d: %w", r.Topic, r.Partition, err)
	}
}

// PreCommit waits until every record of the open transaction is written
// and returns the transaction's identity for the checkpoint. After an error
// the transaction must be aborted.
func (p *TxnProducer) PreCommit(ctx context.Context) (PendingTxn, error) {
	if err := p.cl.Flush(ctx); err != nil {
		return PendingTxn{}, rberr.Wrap(rberr.IO, err, "kafka: transaction %q: flush", p.id)
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return PendingTxn{}, rberr.Wrap(rberr.IO, err, "kafka: transaction %q", p.id)
	}
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return PendingTxn{}, rberr.Wrap(rberr.IO, err, "kafka: transaction %q: producer id", p.id)
	}
	return PendingTxn{TransactionalID: p.id, ProducerID: id, Epoch: epoch}, nil
}

// Commit commits the open (pre-committed) transaction.
func (p *TxnProducer) Commit(ctx context.Context) error {
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: transaction %q: commit", p.id)
	}
	return nil
}

// Abort drops records not yet sent and aborts the open transaction.
func (p *TxnProducer) Abort(ctx context.Context) error {
	if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: transaction %q: abort", p.id)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: transaction %q: abort", p.id)
	}
	return nil
}

// Close closes the client without ending an open transaction (the broker
// aborts it after the transaction timeout, or a restore commits or aborts it).
func (p *TxnProducer) Close() { p.cl.Close() }

// CommitPending commits a transaction that an earlier producer pre-committed
// (the PendingTxn a restored checkpoint stored), by sending the EndTxn
// request that producer would have sent, with its producer id and epoch.
// Committing a transaction that is already committed succeeds, so a restore
// may repeat it. cl is any client of the cluster (not transactional).
func CommitPending(ctx context.Context, cl *kgo.Client, t PendingTxn) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = t.TransactionalID
	req.ProducerID = t.ProducerID
	req.ProducerEpoch = t.Epoch
	req.Commit = true
	err := retryConcurrent(ctx, func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "kafka: committing restored transaction %q (producer id %d, epoch %d)",
			t.TransactionalID, t.ProducerID, t.Epoch)
	}
	return nil
}

// AbortTransactions aborts any open transaction of each transactional id,
// by initializing a producer id for it (InitProducerID fences the previous
// producer and aborts its open transaction), as Flink's KafkaSink does for
// the transactions of checkpoints after the restored one.
func AbortTransactions(ctx context.Context, cl *kgo.Client, ids ...string) error {
	for _, id := range ids {
		if _, err := initProducerID(ctx, cl, id); err != nil {
			return err
		}
	}
	return nil
}

// initProducerID sends InitProducerID for a transactional id and returns the
// epoch the coordinator answers: 0 for an id never used before (within the
// transaction log's retention).
func initProducerID(ctx context.Context, cl *kgo.Client, id string) (int16, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = 60000
	req.ProducerID = -1
	req.ProducerEpoch = -1
	var epoch int16
	err := retryConcurrent(ctx, func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		epoch = resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	if err != nil {
		return 0, rberr.Wrap(rberr.IO, err, "kafka: aborting transaction %q", id)
	}
	return epoch, nil
}

// AbortLingering aborts the transactions a subtask may have left open after
// the checkpoint it is restored from, by Flink's probing strategy: for the
// transactional ids prefix-subtask-c with c = fromCheckpoint,
// fromCheckpoint+1, ..., abort each until one that was never used (the
// coordinator answers epoch 0), and return how many ids were probed. Pass
// the restored checkpoint's id + 1. Like Flink's, probing initializes the
// unused id it stops at, so a restart loop probes one id further each time.
func AbortLingering(ctx context.Context, cl *kgo.Client, prefix string, subtask int, fromCheckpoint int64) (int, error) {
	for n := 0; ; n++ {
		epoch, err := initProducerID(ctx, cl, TransactionalID(prefix, subtask, fromCheckpoint+int64(n)))
		if err != nil {
			return n, err
		}
		if epoch == 0 {
			return n + 1, nil
		}
	}
}

// AbortOpen aborts every open transaction whose transactional id is
// prefix-subtask-checkpoint (TransactionalID), at any subtask and checkpoint,
// and returns how many it aborted. It finds them with ListTransactions (state
// Ongoing). A restore calls it after committing the restored checkpoint's
// transactions (CommitPending), and a job that starts without restoring one
// before its first transaction: a run killed before it completed a checkpoint
// may have left transactions open at subtasks that neither the restored run
// nor the new one has (a higher parallelism in between), where probing
// (AbortLingering) does not look, and nothing of such a run is ever to be
// committed. Left open, they stall read_committed consumers of the topic
// until the transaction timeout. A cluster that does not answer
// ListTransactions (before Kafka 3.0, or without DESCRIBE on transactional
// ids) is not an error: nothing is aborted, as before.
func AbortOpen(ctx context.Context, cl *kgo.Client, prefix string) (int, error) {
	listed, err := kadm.NewClient(cl).ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil && len(listed) == 0 {
		return 0, nil
	}
	ours := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `-[0-9]+-[0-9]+$`)
	var ids []string
	for _, id := range listed.TransactionalIDs() {
		if ours.MatchString(id) {
			ids = append(ids, id)
		}
	}
	return len(ids), AbortTransactions(ctx, cl, ids...)
}

// retryConcurrent runs send until it does not fail with
// CONCURRENT_TRANSACTIONS: the coordinator is still completing an earlier
// commit or abort of the same transactional id, which takes moments.
func retryConcurrent(ctx context.Context, send func() error) error {
	for {
		err := send()
		if !errors.Is(err, kerr.ConcurrentTransactions) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
