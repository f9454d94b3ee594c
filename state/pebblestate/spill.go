package pebblestate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

func init() {
	state.RegisterSpillStore(state.PebbleBackend, func(opts state.SpillOptions) (state.SpillStore, error) {
		return newSpill(opts, noSyncFS{vfs.Default})
	})
}

// spillStore is the spill store of the Pebble backend: one Pebble database per operator
// subtask, in a fresh directory removed by Close, holding values under their 8-byte
// big-endian keys. Operators spill chunks under increasing keys, so each flushed table
// covers a new key range and compactions are mostly moves.
//
// The WAL is off (spilled values live only as long as the subtask). A full disk must be
// an error, never a hang: Pebble retries a failed flush in the background, and a write
// stalls while too many memtables wait for one. So the store flushes by itself, one flush
// at a time, and waits for the previous one (or for a background error) before starting
// the next: Pebble's queue of memtables never reaches its stall threshold. After any
// background error every call fails with it; Close then closes the database (which stops
// Pebble's retries), unless Pebble gave up on it, and removes the directory.
type spillStore struct {
	db        *pebble.DB
	opts      *pebble.Options
	dir       string
	ingests   int   // tables written for PutSorted
	flushAt   int64 // bytes written after which the store starts a flush
	unflushed int64
	flushing  <-chan struct{} // the flush last started (nil: none)
	key       [8]byte

	mu     sync.Mutex
	failed error         // first background error
	failCh chan struct{} // closed once failed is set
	fatal  bool          // Pebble gave up (spillLogger.Fatalf): the database is not touched again
}

// noSyncFS is a file system whose files are never synced: spilled values live only as
// long as the process, so waiting for the disk buys nothing. (A write that later fails
// to reach the disk shows as a checksum error of Pebble when read back, never as wrong
// values.)
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error                { return nil }
func (noSyncFile) SyncData() error            { return nil }
func (noSyncFile) SyncTo(int64) (bool, error) { return true, nil }

func wrapNoSync(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (fs noSyncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return wrapNoSync(fs.FS.Create(name, c))
}

func (fs noSyncFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return wrapNoSync(fs.FS.Open(name, opts...))
}

func (fs noSyncFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return wrapNoSync(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs noSyncFS) OpenDir(name string) (vfs.File, error) { return wrapNoSync(fs.FS.OpenDir(name)) }

func (fs noSyncFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return wrapNoSync(fs.FS.ReuseForWrite(oldname, newname, c))
}

func newSpill(opts state.SpillOptions, fs vfs.FS) (*spillStore, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create spill directory %s", opts.Dir)
	}
	removeOrphans(opts.Dir)
	dir, err := os.MkdirTemp(opts.Dir, fmt.Sprintf("%s%d-", spillPrefix, os.Getpid()))
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create spill directory in %s", opts.Dir)
	}
	limit := max(opts.MemoryLimit, 2<<20)
	s := &spillStore{dir: dir, failCh: make(chan struct{})}
	cache := pebble.NewCache(limit / 4)
	defer cache.Unref()
	memtable := max(limit/4, 2<<20)
	o := &pebble.Options{
		Cache:        cache,
		MemTableSize: uint64(memtable),
		// The store keeps at most two memtables queued (see spillStore); the stall
		// threshold is far above that.
		MemTableStopWritesThreshold: 8,
		DisableWAL:                  true,
		FS:                          fs,
		Logger:                      spillLogger{s},
		EventListener:               &pebble.EventListener{BackgroundError: s.fail},
	}
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	s.flushAt = memtable / 2
	if opts.ByKey {
		// Values overwritten in place, anywhere in the key space: every flush overlaps
		// the whole store, and each compaction of L0 rewrites it. Larger memtables, and
		// more of them in L0 before a compaction, rewrite it less often (a fifth less
		// time with uniform keys). (Bloom filters do not help: lookups come sorted, by
		// SeekGE, which does not consult them.)
		o.MemTableSize = uint64(max(limit/2, 2<<20))
		s.flushAt = int64(o.MemTableSize) * 3 / 4
		o.L0CompactionThreshold = 12
		// L0 compacts straight into the bottom level: a store of this kind is rewritten
		// across its key space between compactions anyway, and the level between held a
		// second copy of most entries for every lookup to pass (two levels read per key
		// instead of one; 5% less time for the updating group_by).
		o.LBaseMaxBytes = 1 << 40
		o.L0StopWritesThreshold = 32
		for i := range o.Levels {
			o.Levels[i].BlockSize = keyedBlockSize
		}
		// Keys read back are deleted, and a store kept in the order its entries come due
		// (session windows) is read and deleted from its front: most blocks fill with
		// tombstones, and Pebble's compactions of tables dense with them rewrote the
		// bottom level over and over (170 of 177 compactions of a session window's
		// store; 4.0 GB written against 1.4 GB without them, 32.1 -> 28.5 s). The
		// other compactions drop the tombstones as they go.
		o.Experimental.TombstoneDenseCompactionThreshold = -1
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, rberr.Wrap(rberr.IO, err, "open spill store in %s", dir)
	}
	s.db, s.opts = db, o
	return s, nil
}

// keyedBlockSize is the data block size of a store kept by key. An updating group_by
// looks up a batch's cold keys in key order, and with keys spread over the store almost
// every block is read once per batch: 32 KiB blocks take an eighth of the reads of 4 KiB
// ones (Pebble's default) for the same bytes. Uniform keys over ten times the cap: 0.30
// -> 0.35M rows/s (128 KiB: 0.37M, with four times the iterators' block buffers).
const keyedBlockSize = 32 << 10

// spillPrefix starts the name of a spill store's directory, followed by the process id.
const spillPrefix = "riverbed-spill-"

var cleaned sync.Map // directories whose orphans this process removed

// removeOrphans removes, once per process and directory, the spill stores in dir of
// processes that no longer run (a job killed before it could remove its own). A store
// whose process id was reused by another process stays: removing it is never wrong, only
// late.
func removeOrphans(dir string) {
	if _, done := cleaned.LoadOrStore(dir, true); done {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), spillPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if gone(pid) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// fail records the first background error.
func (s *spillStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = err
		close(s.failCh)
	}
}

func (s *spillStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.wrap(s.failed)
	}
	return nil
}

func (s *spillStore) wrap(err error) error {
	return rberr.Wrap(rberr.IO, err, "spill store in %s (is the disk full?)", s.dir)
}

// spillLogger drops Pebble's messages; a fatal one (Pebble gives up on its files, for
// example when its manifest cannot be written to a full disk) fails the store and ends
// the goroutine that hit it instead of the process.
type spillLogger struct{ s *spillStore }

func (spillLogger) Infof(string, ...any)  {}
func (spillLogger) Errorf(string, ...any) {}
func (l spillLogger) Fatalf(format string, args ...any) {
	err := fmt.Errorf("pebble: "+format, args...)
	l.s.fail(err)
	l.s.mu.Lock()
	l.s.fatal = true
	l.s.mu.Unlock()
	// In a call of the store (the operator's goroutine), a panic becomes the subtask's
	// error; in one of Pebble's own goroutines, the goroutine ends and the next call of
	// the store fails.
	buf := make([]byte, 64<<10)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "pebblestate.(*spillStore)") {
		panic(l.s.wrap(err))
	}
	runtime.Goexit()
}

func (s *spillStore) keyOf(k uint64) []byte {
	binary.BigEndian.PutUint64(s.key[:], k)
	return s.key[:]
}

// wrote accounts n bytes written and starts a flush once enough are unflushed, after
// waiting for the previous flush (or a background error).
func (s *spillStore) wrote(n int) error {
	s.unflushed += int64(n)
	if s.unflushed < s.flushAt {
		return nil
	}
	if s.flushing != nil {
		select {
		case <-s.flushing:
		case <-s.failCh:
			return s.err()
		}
	}
	if err := s.err(); err != nil {
		return err
	}
	ch, err := s.db.AsyncFlush()
	if err != nil {
		return s.wrap(err)
	}
	s.flushing, s.unflushed = ch, 0
	return nil
}

func (s *spillStore) Put(key uint64, value []byte) error {
	if err := s.err(); err != nil {
		return err
	}
	if err := s.db.Set(s.keyOf(key), value, pebble.NoSync); err != nil {
		return s.wrap(err)
	}
	return s.wrote(len(value) + 8)
}

func (s *spillStore) Get(key uint64, fn func([]byte) error) error {
	if err := s.err(); err != nil {
		return err
	}
	v, closer, err := s.db.Get(s.keyOf(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return rberr.New(rberr.Data, "spill store in %s has no value %d", s.dir, key)
	}
	if err != nil {
		return rberr.Wrap(rberr.Data, err, "read spill store in %s", s.dir)
	}
	defer closer.Close()
	return fn(v)
}

func (s *spillStore) Delete(key uint64) error {
	if err := s.err(); err != nil {
		return err
	}
	if err := s.db.Delete(s.keyOf(key), pebble.NoSync); err != nil {
		return s.wrap(err)
	}
	return s.wrote(8)
}

var _ state.KeyedSpillStore = (*spillStore)(nil)

func (s *spillStore) PutKeys(keys, values [][]byte) error {
	if err := s.err(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	n := 0
	for i, k := range keys {
		if err := b.Set(k, values[i], nil); err != nil {
			_ = b.Close()
			return s.wrap(err)
		}
		n += len(k) + len(values[i])
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		_ = b.Close()
		return s.wrap(err)
	}
	if err := b.Close(); err != nil {
		return s.wrap(err)
	}
	return s.wrote(n)
}

func (s *spillStore) GetKeys(keys [][]byte, fn func(int, []byte) error) error {
	if len(keys) == 0 {
		return s.err()
	}
	// One iterator for the batch: ascending seeks move its levels forward only, reusing
	// the blocks they hold.
	return s.iterate(func(it *pebble.Iterator) error {
		for i, k := range keys {
			if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
				continue
			}
			v, err := it.ValueAndErr()
			if err == nil {
				err = fn(i, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// iterate runs visit over a fresh iterator of the store and closes it.
func (s *spillStore) iterate(visit func(it *pebble.Iterator) error) error {
	return s.iterateIn(nil, visit)
}

// iterateIn is iterate over an iterator with options o.
func (s *spillStore) iterateIn(o *pebble.IterOptions, visit func(it *pebble.Iterator) error) error {
	if err := s.err(); err != nil {
		return err
	}
	it, err := s.db.NewIter(o)
	if err != nil {
		return s.wrap(err)
	}
	if err := visit(it); err != nil {
		_ = it.Close()
		return err
	}
	if err := it.Close(); err != nil {
		return rberr.Wrap(rberr.Data, err, "read spill store in %s", s.dir)
	}
	return nil
}

func (s *spillStore) DeleteKey(key []byte) error {
	if err := s.err(); err != nil {
		return err
	}
	if err := s.db.Delete(key, pebble.NoSync); err != nil {
		return s.wrap(err)
	}
	return s.wrote(len(key))
}

func (s *spillStore) DeleteKeys(keys [][]byte) error {
	if err := s.err(); err != nil || len(keys) == 0 {
		return err
	}
	b := s.db.NewBatch()
	n := 0
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			_ = b.Close()
			return s.wrap(err)
		}
		n += len(k)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		_ = b.Close()
		return s.wrap(err)
	}
	if err := b.Close(); err != nil {
		return s.wrap(err)
	}
	return s.wrote(n)
}

func (s *spillStore) DeleteRange(lo, hi []byte) error {
	if err := s.err(); err != nil {
		return err
	}
	if err := s.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		return s.wrap(err)
	}
	return s.wrote(len(lo) + len(hi))
}

func (s *spillStore) ScanKeys(fn func(key, value []byte) error) error {
	return s.ScanRange(nil, nil, fn)
}

func (s *spillStore) ScanRange(lo, hi []byte, fn func(key, value []byte) error) error {
	return s.iterateIn(&pebble.IterOptions{LowerBound: lo, UpperBound: hi}, func(it *pebble.Iterator) error {
		for it.First(); it.Valid(); it.Next() {
			v, err := it.ValueAndErr()
			if err == nil {
				err = fn(it.Key(), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *spillStore) Close() error {
	if s.dir == "" {
		return nil
	}
	s.mu.Lock()
	fatal, failed := s.fatal, s.failed != nil
	s.mu.Unlock()
	var err error
	if !fatal {
		err = s.db.Close()
		if failed {
			err = nil // the error was reported by the call that met it
		}
	}
	s.db = nil
	if rerr := os.RemoveAll(s.dir); err == nil && rerr != nil {
		err = rerr
	}
	dir := s.dir
	s.dir = ""
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "close spill store in %s", dir)
	}
	return nil
}

// PutSorted writes the entries into a table of their own, ingested into the store by
// Finish: a store overwritten anywhere in its key space gets one table in L0 per write,
// however many entries, where writes through its memtables flush a table per memtable
// (a few MiB under a small cap), and each compaction of L0 then carries that much more.
func (s *spillStore) PutSorted() (state.SortedWriter, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	s.ingests++
	path := filepath.Join(s.dir, fmt.Sprintf("riverbed-ingest-%d.sst", s.ingests))
	f, err := s.opts.FS.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, s.wrap(err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.opts.MakeWriterOptions(0, s.db.TableFormat()))
	return &sortedWriter{s: s, w: w, path: path}, nil
}

type sortedWriter struct {
	s    *spillStore
	w    *sstable.Writer
	path string
	n    int
	done bool
}

func (w *sortedWriter) Put(key, value []byte) error {
	if err := w.w.Set(key, value); err != nil {
		return w.s.wrap(err)
	}
	w.n++
	return nil
}

func (w *sortedWriter) Finish() error {
	w.done = true
	err := w.w.Close()
	if err == nil && w.n > 0 {
		err = w.s.db.Ingest(context.Background(), []string{w.path})
	}
	// The store links the table into its own files; this name goes either way.
	_ = w.s.opts.FS.Remove(w.path)
	if err != nil {
		return w.s.wrap(err)
	}
	return nil
}

func (w *sortedWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.w.Close()
	_ = w.s.opts.FS.Remove(w.path)
}
