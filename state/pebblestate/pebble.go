package pebblestate

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

func init() {
	state.RegisterBackend(state.PebbleBackend, func(opts state.Options) (state.Backend, error) { return newPebble(opts) })
	state.RegisterHandleFormat(state.FormatPebble, restorePebbleHandle)
}

// pebbleStore is the Pebble backend: one Pebble database per subtask, for state larger than
// memory. Keys are
//
//	table id (uint16 BE) | key group (uint16 BE) | len(key) (uint32 BE) | key | user key
//
// so all entries of one table and key-group range form one contiguous key range, and all
// entries of one map key share a prefix. A value is expiry (int64 BE, 0 = never) | bytes.
// A list is a concatenation of elements expiry | uvarint length | bytes, appended with
// Pebble's concatenating merge operator (no read on append).
//
// The WAL is disabled: durability comes from checkpoints, which flush the memtable first and
// then take Pebble's own checkpoint (hard-linked SSTs, shared by consecutive checkpoints).
type pebbleStore struct {
	state.TableSet
	db    *pebble.DB
	dir   string
	sums  state.ChecksumCache
	batch *pebble.Batch // pending TTL cleanup (deletes, refreshed expiries)
	kbuf  []byte
	kbuf2 []byte
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

func newPebble(opts state.Options) (*pebbleStore, error) {
	if opts.Dir == "" {
		return nil, rberr.New(rberr.InvalidArgument, "the pebble state backend needs a working directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create pebble working directory %s", opts.Dir)
	}
	dir, err := os.MkdirTemp(opts.Dir, "pebble-")
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create pebble working directory in %s", opts.Dir)
	}
	db, err := openPebble(dir, opts.MemoryLimit, false)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &pebbleStore{TableSet: state.NewTableSet(opts), db: db, dir: dir}
	p.batch = db.NewBatch()
	return p, nil
}

// openPebble opens a database whose block cache and memtables together stay within limit.
func openPebble(dir string, limit int64, readOnly bool) (*pebble.DB, error) {
	if limit < 4<<20 {
		limit = 4 << 20
	}
	cache := pebble.NewCache(limit / 2)
	defer cache.Unref()
	o := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                uint64(limit / 4),
		MemTableStopWritesThreshold: 2,
		DisableWAL:                  true,
		ReadOnly:                    readOnly,
		Logger:                      quietLogger{},
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "open pebble state in %s", dir)
	}
	return db, nil
}

func appendPrefix(dst []byte, t state.Table, kg int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(t))
	return binary.BigEndian.AppendUint16(dst, uint16(kg))
}

func appendKey(dst []byte, t state.Table, kg int, key, sub []byte) []byte {
	dst = appendPrefix(dst, t, kg)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	return append(dst, sub...)
}

// parseKey splits a stored key after its table/key-group prefix.
func parseKey(k []byte) (kg int, key, sub []byte, ok bool) {
	if len(k) < 8 {
		return 0, nil, nil, false
	}
	kg = int(binary.BigEndian.Uint16(k[2:4]))
	n := int(binary.BigEndian.Uint32(k[4:8]))
	if len(k) < 8+n {
		return 0, nil, nil, false
	}
	return kg, k[8 : 8+n], k[8+n:], true
}

func encodeRec(dst []byte, exp int64, v []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(exp))
	return append(dst, v...)
}

func decodeRec(b []byte) (int64, []byte, error) {
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("stored value of %d bytes is shorter than its header", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), b[8:], nil
}

func encodeElem(dst []byte, exp int64, v []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(exp))
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

// decodeList calls fn for each element of a stored list.
func decodeList(b []byte, fn func(exp int64, v []byte)) error {
	for len(b) > 0 {
		if len(b) < 9 {
			return fmt.Errorf("truncated list element")
		}
		exp := int64(binary.BigEndian.Uint64(b))
		n, w := binary.Uvarint(b[8:])
		if w <= 0 || uint64(len(b)-8-w) < n {
			return fmt.Errorf("truncated list element")
		}
		fn(exp, b[8+w:8+w+int(n)])
		b = b[8+w+int(n):]
	}
	return nil
}

func (p *pebbleStore) corrupt(t state.Table, err error) error {
	return rberr.Wrap(rberr.Internal, err, "pebble state of table %q in %s is corrupt", p.Options().Tables[t].Name, p.dir)
}

// get returns a copy of the stored value of k, or nil.
func (p *pebbleStore) get(k []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(k)
	if err == pebble.ErrNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, rberr.Wrap(rberr.IO, err, "read pebble state in %s", p.dir)
	}
	out := clone(v)
	closer.Close()
	return out, true, nil
}

// lookup returns copies of the stored values of (keys[i], subs[i]) (subs may be nil), nil
// for absent ones. (Point reads: sharing one iterator with sorted seeks measured no faster.)
func (p *pebbleStore) lookup(t state.Table, kg int, keys, subs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, key := range keys {
		p.kbuf = appendKey(p.kbuf[:0], t, kg, key, subAt(subs, i))
		raw, _, err := p.get(p.kbuf)
		if err != nil {
			return nil, err
		}
		out[i] = raw
	}
	return out, nil
}

// subAt is subs[i], or nil when subs is nil (a value or list table has no user keys).
func subAt(subs [][]byte, i int) []byte {
	if subs == nil {
		return nil
	}
	return subs[i]
}

// commitCleanup writes pending TTL deletes and refreshes.
func (p *pebbleStore) commitCleanup() error {
	if p.batch.Empty() {
		return nil
	}
	err := p.batch.Commit(pebble.NoSync)
	p.batch.Reset()
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "write pebble state in %s", p.dir)
	}
	return nil
}

func (p *pebbleStore) Get(t state.Table, kg int, keys [][]byte, dst [][]byte) ([][]byte, error) {
	spec, err := p.Check("get", t, state.Value, kg, len(keys))
	if err != nil {
		return dst, err
	}
	return p.getRecs(spec, t, kg, keys, nil, dst)
}

// getRecs serves Get and GetMap (subs nil for a value table): the live value at each
// key, or nil. Expired records are deleted; with OnReadAndWrite, live ones get a
// refreshed expiry.
func (p *pebbleStore) getRecs(spec *state.TableSpec, t state.Table, kg int, keys, subs [][]byte, dst [][]byte) ([][]byte, error) {
	now := p.Options().Clock.NowMillis()
	return readEach(p, t, kg, keys, subs, dst, func(raw []byte) ([]byte, error) {
		exp, v, err := decodeRec(raw)
		if err != nil {
			return nil, err
		}
		if state.Expired(exp, now) {
			p.batch.Delete(p.kbuf, nil)
			return nil, nil
		}
		if spec.TTL.Update == state.OnReadAndWrite && exp != 0 {
			p.batch.Set(p.kbuf, encodeRec(p.kbuf2[:0], spec.Expiry(now), v), nil)
		}
		return v, nil
	})
}

// readEach is the point read of Get, GetMap and GetList: it looks up every (keys[i],
// subs[i]) and appends to dst the zero V for an absent one, or else, with p.kbuf set to
// the stored key, what decode makes of the stored bytes. decode may queue TTL deletes
// and rewrites of p.kbuf on p.batch, which are committed at the end; its error is
// reported as corrupt state of table t.
func readEach[V any](p *pebbleStore, t state.Table, kg int, keys, subs [][]byte, dst []V, decode func(raw []byte) (V, error)) ([]V, error) {
	raws, err := p.lookup(t, kg, keys, subs)
	if err != nil {
		return dst, err
	}
	dst = dst[:0]
	for i, key := range keys {
		var v V
		if raws[i] != nil {
			p.kbuf = appendKey(p.kbuf[:0], t, kg, key, subAt(subs, i))
			if v, err = decode(raws[i]); err != nil {
				return dst, p.corrupt(t, err)
			}
		}
		dst = append(dst, v)
	}
	return dst, p.commitCleanup()
}

func (p *pebbleStore) Put(t state.Table, kg int, keys, values [][]byte) error {
	spec, err := p.Check("put", t, state.Value, kg, len(keys), len(values))
	if err != nil {
		return err
	}
	return p.putRecs(spec, t, kg, keys, nil, values)
}

// putRecs serves Put and PutMap (subs nil for a value table): it writes each value with
// the table's expiry from now.
func (p *pebbleStore) putRecs(spec *state.TableSpec, t state.Table, kg int, keys, subs, values [][]byte) error {
	exp := spec.Expiry(p.Options().Clock.NowMillis())
	for i, key := range keys {
		p.kbuf = appendKey(p.kbuf[:0], t, kg, key, subAt(subs, i))
		p.kbuf2 = encodeRec(p.kbuf2[:0], exp, values[i])
		p.batch.Set(p.kbuf, p.kbuf2, nil)
	}
	return p.commitCleanup()
}

func (p *pebbleStore) Delete(t state.Table, kg int, keys [][]byte) error {
	spec, err := p.Check("delete", t, state.AnyKind, kg, len(keys))
	if err != nil {
		return err
	}
	for _, key := range keys {
		p.kbuf = appendKey(p.kbuf[:0], t, kg, key, nil)
		if spec.Kind == state.Map {
			p.kbuf2 = append(p.kbuf2[:0], p.kbuf...)
			p.kbuf2 = successor(p.kbuf2)
			p.batch.DeleteRange(p.kbuf, p.kbuf2, nil)
		} else {
			p.batch.Delete(p.kbuf, nil)
		}
	}
	return p.commitCleanup()
}

// successor returns the smallest key greater than every key with prefix b (b is modified).
func successor(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return append(b, 0xff) // all 0xff: cannot happen with our prefixes
}

func (p *pebbleStore) GetList(t state.Table, kg int, keys [][]byte, dst [][][]byte) ([][][]byte, error) {
	spec, err := p.Check("get list", t, state.List, kg, len(keys))
	if err != nil {
		return dst, err
	}
	now := p.Options().Clock.NowMillis()
	return readEach(p, t, kg, keys, nil, dst, func(raw []byte) ([][]byte, error) {
		var out [][]byte
		dropped := false
		err := decodeList(raw, func(exp int64, v []byte) {
			if state.Expired(exp, now) {
				dropped = true
				return
			}
			out = append(out, v)
		})
		if err != nil {
			return nil, err
		}
		switch {
		case len(out) == 0:
			p.batch.Delete(p.kbuf, nil)
		case dropped || (spec.TTL.Update == state.OnReadAndWrite && spec.TTL.TTL > 0):
			// Rewrite the list without its expired elements (and with refreshed expiry).
			var buf []byte
			_ = decodeList(raw, func(exp int64, v []byte) {
				if state.Expired(exp, now) {
					return
				}
				if spec.TTL.Update == state.OnReadAndWrite {
					exp = spec.Expiry(now)
				}
				buf = encodeElem(buf, exp, v)
			})
			p.batch.Set(p.kbuf, buf, nil)
		}
		return out, nil
	})
}

func (p *pebbleStore) Append(t state.Table, kg int, keys, values [][]byte) error {
	spec, err := p.Check("append", t, state.List, kg, len(keys), len(values))
	if err != nil {
		return err
	}
	exp := spec.Expiry(p.Options().Clock.NowMillis())
	for i, key := range keys {
		p.kbuf = appendKey(p.kbuf[:0], t, kg, key, nil)
		p.kbuf2 = encodeElem(p.kbuf2[:0], exp, values[i])
		p.batch.Merge(p.kbuf, p.kbuf2, nil)
	}
	return p.commitCleanup()
}

func (p *pebbleStore) GetMap(t state.Table, kg int, keys, userKeys [][]byte, dst [][]byte) ([][]byte, error) {
	spec, err := p.Check("get map", t, state.Map, kg, len(keys), len(userKeys))
	if err != nil {
		return dst, err
	}
	return p.getRecs(spec, t, kg, keys, userKeys, dst)
}

func (p *pebbleStore) PutMap(t state.Table, kg int, keys, userKeys, values [][]byte) error {
	spec, err := p.Check("put map", t, state.Map, kg, len(keys), len(userKeys), len(values))
	if err != nil {
		return err
	}
	return p.putRecs(spec, t, kg, keys, userKeys, values)
}

func (p *pebbleStore) DeleteMap(t state.Table, kg int, keys, userKeys [][]byte) error {
	if _, err := p.Check("delete map", t, state.Map, kg, len(keys), len(userKeys)); err != nil {
		return err
	}
	for i, key := range keys {
		p.kbuf = appendKey(p.kbuf[:0], t, kg, key, userKeys[i])
		p.batch.Delete(p.kbuf, nil)
	}
	return p.commitCleanup()
}

func (p *pebbleStore) Scan(t state.Table, kg int, fn func(key, userKey, value []byte) error) error {
	if _, err := p.Check("scan", t, state.AnyKind, kg, 0); err != nil {
		return err
	}
	return p.scanRaw(t, kg, p.Options().Clock.NowMillis(), func(key, sub []byte, _ int64, v []byte) error {
		return fn(key, sub, v)
	})
}

// scanRaw visits the live entries of one table and key group in key order; expired
// entries are deleted afterwards (incremental TTL cleanup).
func (p *pebbleStore) scanRaw(t state.Table, kg int, now int64, fn func(key, sub []byte, exp int64, v []byte) error) error {
	if err := scanDB(p.db, t, p.Options().Tables[t].Kind, kg, kg+1, now, func(_ int, key, sub []byte, exp int64, v []byte) error {
		return fn(key, sub, exp, v)
	}, func(k []byte) { p.batch.Delete(k, nil) }); err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "scan of table %q", p.Options().Tables[t].Name)
	}
	return p.commitCleanup()
}

// scanDB visits the live entries of table id in key groups [a, b) of db, in key order.
// expiredFn, if not nil, gets the stored keys of expired values and of lists with no live
// element left (lists with some expired elements are filtered, not rewritten).
func scanDB(db *pebble.DB, id state.Table, kind state.Kind, a, b int, now int64,
	fn func(kg int, key, sub []byte, exp int64, v []byte) error, expiredFn func(k []byte)) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: appendPrefix(nil, id, a), UpperBound: appendPrefix(nil, id, b)})
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "iterate pebble state")
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		kg, key, sub, good := parseKey(it.Key())
		if !good {
			return rberr.New(rberr.Data, "malformed state key %x", it.Key())
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "read pebble state")
		}
		if kind == state.List {
			var ferr error
			live := 0
			derr := decodeList(raw, func(exp int64, v []byte) {
				if ferr != nil || state.Expired(exp, now) {
					return
				}
				live++
				ferr = fn(kg, key, nil, exp, v)
			})
			if derr != nil {
				return rberr.Wrap(rberr.Data, derr, "malformed state list at key %x", it.Key())
			}
			if ferr != nil {
				return ferr
			}
			if live == 0 && expiredFn != nil {
				expiredFn(clone(it.Key()))
			}
			continue
		}
		exp, v, err := decodeRec(raw)
		if err != nil {
			return rberr.Wrap(rberr.Data, err, "malformed state value at key %x", it.Key())
		}
		if state.Expired(exp, now) {
			if expiredFn != nil {
				expiredFn(clone(it.Key()))
			}
			continue
		}
		if err := fn(kg, key, sub, exp, v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return rberr.Wrap(rberr.IO, err, "iterate pebble state")
	}
	return nil
}

func (p *pebbleStore) Load(t state.Table, kg int, key, sub []byte, exp int64, v []byte) error {
	p.kbuf = appendKey(p.kbuf[:0], t, kg, key, sub)
	if p.Options().Tables[t].Kind == state.List {
		p.kbuf2 = encodeElem(p.kbuf2[:0], exp, v)
		p.batch.Merge(p.kbuf, p.kbuf2, nil)
	} else {
		p.kbuf2 = encodeRec(p.kbuf2[:0], exp, v)
		p.batch.Set(p.kbuf, p.kbuf2, nil)
	}
	if p.batch.Len() > 4<<20 {
		return p.commitCleanup()
	}
	return nil
}

func (p *pebbleStore) FlushLoad() error { return p.commitCleanup() }

func (p *pebbleStore) tableRefs() []state.TableRef {
	refs := make([]state.TableRef, len(p.Options().Tables))
	for i, s := range p.Options().Tables {
		refs[i] = state.TableRef{Name: s.Name, ID: i, Kind: s.Kind, Types: []string{s.Key.String(), s.UserKey.String(), s.Value.String()}}
	}
	return refs
}

// Snapshot takes Pebble's own checkpoint (after flushing the memtable): its SSTs are hard
// links, so files unchanged since the previous checkpoint are shared, not copied. A
// savepoint is instead exported as portable Arrow IPC files, as the memory backend writes.
func (p *pebbleStore) Snapshot(w *state.Writer, opID string) error {
	if w.Savepoint() {
		return state.WriteArrowSnapshot(w, opID, &p.TableSet, p.scanRaw)
	}
	if err := p.db.Flush(); err != nil {
		return rberr.Wrap(rberr.IO, err, "flush pebble state in %s", p.dir)
	}
	lo, hi := p.KeyGroups()
	rel := state.HandleDir(opID, lo, hi) + "/pebble"
	if err := p.db.Checkpoint(filepath.Join(w.Dir(), filepath.FromSlash(rel))); err != nil {
		return rberr.Wrap(rberr.IO, err, "checkpoint pebble state of operator %q", opID)
	}
	ents, err := os.ReadDir(filepath.Join(w.Dir(), filepath.FromSlash(rel)))
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "list pebble checkpoint of operator %q", opID)
	}
	h := state.StateHandle{KeyGroupStart: lo, KeyGroupEnd: hi, Format: state.FormatPebble, Tables: p.tableRefs()}
	for _, e := range ents {
		if e.IsDir() {
			return rberr.New(rberr.Internal, "unexpected directory %s in a pebble checkpoint", e.Name())
		}
		f := rel + "/" + e.Name()
		if err := w.AddFile(f, &p.sums); err != nil {
			return err
		}
		h.Files = append(h.Files, f)
	}
	sort.Strings(h.Files)
	w.AddStateHandle(opID, h)
	return nil
}

// restorePebbleHandle reads key groups [a, b) of a Pebble checkpoint into ld. The
// checkpoint is linked (or copied) into a scratch directory and opened read-only, so the
// checkpoint itself is never modified.
func restorePebbleHandle(cp *state.Checkpoint, h state.StateHandle, opID string, ts *state.TableSet, ld state.Loader, a, b int, now int64) error {
	if len(h.Files) == 0 {
		return rberr.New(rberr.Data, "cannot restore operator %q from %s: pebble state handle without files", opID, cp.Dir)
	}
	parent := "" // the system's temporary directory, or the Pebble backend's own
	if ts.Options().Backend == state.PebbleBackend {
		parent = ts.Options().Dir
	}
	scratch, err := os.MkdirTemp(parent, "restore-")
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "create scratch directory")
	}
	defer os.RemoveAll(scratch)
	dir := path.Dir(h.Files[0])
	for _, f := range h.Files {
		if path.Dir(f) != dir {
			return rberr.New(rberr.Data, "cannot restore operator %q from %s: pebble state files in more than one directory", opID, cp.Dir)
		}
		if err := linkOrCopy(cp.Path(f), filepath.Join(scratch, path.Base(f))); err != nil {
			return err
		}
	}
	db, err := openPebble(scratch, 8<<20, true)
	if err != nil {
		return rberr.Wrap(rberr.Data, err, "cannot restore operator %q from %s", opID, cp.Path(dir))
	}
	defer db.Close()
	for _, ref := range h.Tables {
		t, ok := ts.Table(ref.Name)
		if !ok {
			return rberr.New(rberr.Data, "cannot restore operator %q from %s: the snapshot has state table %q, which the operator does not declare", opID, cp.Dir, ref.Name)
		}
		spec := &ts.Options().Tables[t]
		want := []string{spec.Key.String(), spec.UserKey.String(), spec.Value.String()}
		if ref.Kind != spec.Kind || fmt.Sprint(ref.Types) != fmt.Sprint(want) {
			return rberr.New(rberr.Data, "cannot restore operator %q from %s: table %q is a %s table of %v in the snapshot but is declared as a %s table of %v",
				opID, cp.Dir, ref.Name, ref.Kind, ref.Types, spec.Kind, want)
		}
		err := scanDB(db, state.Table(ref.ID), ref.Kind, a, b, now, func(kg int, key, sub []byte, exp int64, v []byte) error {
			return ld.Load(t, kg, key, sub, exp, v)
		}, nil)
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "restore operator %q, table %q from %s", opID, ref.Name, cp.Dir)
		}
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "open %s", src)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "create %s", dst)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return rberr.Wrap(rberr.IO, err, "copy %s", src)
	}
	return out.Close()
}

func (p *pebbleStore) Restore(cps []*state.Checkpoint, opID string) error {
	return state.RestoreInto(cps, opID, &p.TableSet, p)
}

// Close closes the database and deletes its working directory (checkpoints hold their
// own links to its files).
func (p *pebbleStore) Close() error {
	if p.db == nil {
		return nil
	}
	p.batch.Close()
	err := p.db.Close()
	p.db = nil
	if rerr := os.RemoveAll(p.dir); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "close pebble state in %s", p.dir)
	}
	return nil
}

func clone(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }
