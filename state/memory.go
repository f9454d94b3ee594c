package state

// memStore is the in-memory backend: per table and key group, Go hash tables of byte
// strings. Snapshots are Arrow IPC files (see snapshotfile.go).
type memStore struct {
	TableSet
	groups [][]memGroup // [table][kg-KeyGroupStart]
}

type memRec struct {
	v   []byte
	exp int64
}

type memGroup struct {
	values map[string]memRec
	lists  map[string][]memRec
	maps   map[string]map[string]memRec
}

// mapOf returns the user-key map of key k, creating it (and g.maps) on first use; PutMap
// and Load both write through it.
func (g *memGroup) mapOf(k string) map[string]memRec {
	if g.maps == nil {
		g.maps = make(map[string]map[string]memRec)
	}
	mm := g.maps[k]
	if mm == nil {
		mm = make(map[string]memRec)
		g.maps[k] = mm
	}
	return mm
}

func newMemory(opts Options) *memStore {
	m := &memStore{TableSet: NewTableSet(opts)}
	n := opts.KeyGroupEnd - opts.KeyGroupStart
	m.groups = make([][]memGroup, len(opts.Tables))
	for i := range m.groups {
		m.groups[i] = make([]memGroup, n)
	}
	return m
}

func (m *memStore) group(t Table, kg int) *memGroup {
	return &m.groups[t][kg-m.opts.KeyGroupStart]
}

func clone(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }

func (m *memStore) Get(t Table, kg int, keys [][]byte, dst [][]byte) ([][]byte, error) {
	spec, err := m.Check("get", t, Value, kg, len(keys))
	if err != nil {
		return dst, err
	}
	g := m.group(t, kg)
	now := m.opts.Clock.NowMillis()
	dst = dst[:0]
	for _, k := range keys {
		v, _ := readRec(g.values, string(k), spec, now)
		dst = append(dst, v)
	}
	return dst, nil
}

// readRec serves Get and GetMap: the live value stored under k in recs, or nil. An
// expired record is deleted (expired reports that); with OnReadAndWrite, a live one
// gets a refreshed expiry.
func readRec(recs map[string]memRec, k string, spec *TableSpec, now int64) (v []byte, expired bool) {
	r, ok := recs[k]
	if !ok {
		return nil, false
	}
	if Expired(r.exp, now) {
		delete(recs, k)
		return nil, true
	}
	if spec.TTL.Update == OnReadAndWrite && r.exp != 0 {
		r.exp = spec.Expiry(now)
		recs[k] = r
	}
	return r.v, false
}

func (m *memStore) Put(t Table, kg int, keys, values [][]byte) error {
	spec, err := m.Check("put", t, Value, kg, len(keys), len(values))
	if err != nil {
		return err
	}
	g := m.group(t, kg)
	if g.values == nil {
		g.values = make(map[string]memRec, len(keys))
	}
	exp := spec.Expiry(m.opts.Clock.NowMillis())
	for i, k := range keys {
		g.values[string(k)] = memRec{v: clone(values[i]), exp: exp}
	}
	return nil
}

func (m *memStore) Delete(t Table, kg int, keys [][]byte) error {
	if _, err := m.Check("delete", t, AnyKind, kg, len(keys)); err != nil {
		return err
	}
	g := m.group(t, kg)
	for _, k := range keys {
		delete(g.values, string(k))
		delete(g.lists, string(k))
		delete(g.maps, string(k))
	}
	return nil
}

// liveList drops expired elements of a list in place and returns what is left.
func liveList(l []memRec, now int64) []memRec {
	out := l[:0]
	for _, r := range l {
		if !Expired(r.exp, now) {
			out = append(out, r)
		}
	}
	for i := len(out); i < len(l); i++ {
		l[i] = memRec{}
	}
	return out
}

func (m *memStore) GetList(t Table, kg int, keys [][]byte, dst [][][]byte) ([][][]byte, error) {
	spec, err := m.Check("get list", t, List, kg, len(keys))
	if err != nil {
		return dst, err
	}
	g := m.group(t, kg)
	now := m.opts.Clock.NowMillis()
	dst = dst[:0]
	for _, k := range keys {
		l, ok := g.lists[string(k)]
		if !ok {
			dst = append(dst, nil)
			continue
		}
		if spec.TTL.TTL > 0 {
			l = liveList(l, now)
			if len(l) == 0 {
				delete(g.lists, string(k))
				dst = append(dst, nil)
				continue
			}
			if spec.TTL.Update == OnReadAndWrite {
				for i := range l {
					l[i].exp = spec.Expiry(now)
				}
			}
			g.lists[string(k)] = l
		}
		out := make([][]byte, len(l))
		for i, r := range l {
			out[i] = r.v
		}
		dst = append(dst, out)
	}
	return dst, nil
}

func (m *memStore) Append(t Table, kg int, keys, values [][]byte) error {
	spec, err := m.Check("append", t, List, kg, len(keys), len(values))
	if err != nil {
		return err
	}
	g := m.group(t, kg)
	if g.lists == nil {
		g.lists = make(map[string][]memRec)
	}
	exp := spec.Expiry(m.opts.Clock.NowMillis())
	for i, k := range keys {
		g.lists[string(k)] = append(g.lists[string(k)], memRec{v: clone(values[i]), exp: exp})
	}
	return nil
}

func (m *memStore) GetMap(t Table, kg int, keys, userKeys [][]byte, dst [][]byte) ([][]byte, error) {
	spec, err := m.Check("get map", t, Map, kg, len(keys), len(userKeys))
	if err != nil {
		return dst, err
	}
	g := m.group(t, kg)
	now := m.opts.Clock.NowMillis()
	dst = dst[:0]
	for i, k := range keys {
		mm := g.maps[string(k)]
		v, expired := readRec(mm, string(userKeys[i]), spec, now)
		if expired && len(mm) == 0 {
			delete(g.maps, string(k))
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func (m *memStore) PutMap(t Table, kg int, keys, userKeys, values [][]byte) error {
	spec, err := m.Check("put map", t, Map, kg, len(keys), len(userKeys), len(values))
	if err != nil {
		return err
	}
	g := m.group(t, kg)
	exp := spec.Expiry(m.opts.Clock.NowMillis())
	for i, k := range keys {
		g.mapOf(string(k))[string(userKeys[i])] = memRec{v: clone(values[i]), exp: exp}
	}
	return nil
}

func (m *memStore) DeleteMap(t Table, kg int, keys, userKeys [][]byte) error {
	if _, err := m.Check("delete map", t, Map, kg, len(keys), len(userKeys)); err != nil {
		return err
	}
	g := m.group(t, kg)
	for i, k := range keys {
		if mm := g.maps[string(k)]; mm != nil {
			delete(mm, string(userKeys[i]))
			if len(mm) == 0 {
				delete(g.maps, string(k))
			}
		}
	}
	return nil
}

func (m *memStore) Scan(t Table, kg int, fn func(key, userKey, value []byte) error) error {
	if _, err := m.Check("scan", t, AnyKind, kg, 0); err != nil {
		return err
	}
	return m.scanRaw(t, kg, m.opts.Clock.NowMillis(), func(key, sub []byte, _ int64, v []byte) error {
		return fn(key, sub, v)
	})
}

// scanRaw visits live entries with their expiry, and drops expired ones (incremental TTL
// cleanup during scans and snapshots).
func (m *memStore) scanRaw(t Table, kg int, now int64, fn func(key, sub []byte, exp int64, v []byte) error) error {
	g := m.group(t, kg)
	for k, r := range g.values {
		if Expired(r.exp, now) {
			delete(g.values, k)
			continue
		}
		if err := fn([]byte(k), nil, r.exp, r.v); err != nil {
			return err
		}
	}
	for k, l := range g.lists {
		l = liveList(l, now)
		if len(l) == 0 {
			delete(g.lists, k)
			continue
		}
		g.lists[k] = l
		for _, r := range l {
			if err := fn([]byte(k), nil, r.exp, r.v); err != nil {
				return err
			}
		}
	}
	for k, mm := range g.maps {
		for uk, r := range mm {
			if Expired(r.exp, now) {
				delete(mm, uk)
				continue
			}
			if err := fn([]byte(k), []byte(uk), r.exp, r.v); err != nil {
				return err
			}
		}
		if len(mm) == 0 {
			delete(g.maps, k)
		}
	}
	return nil
}

// Load inserts one restored entry (list elements are appended in order).
func (m *memStore) Load(t Table, kg int, key, sub []byte, exp int64, v []byte) error {
	g := m.group(t, kg)
	r := memRec{v: clone(v), exp: exp}
	switch m.opts.Tables[t].Kind {
	case Value:
		if g.values == nil {
			g.values = make(map[string]memRec)
		}
		g.values[string(key)] = r
	case List:
		if g.lists == nil {
			g.lists = make(map[string][]memRec)
		}
		g.lists[string(key)] = append(g.lists[string(key)], r)
	case Map:
		g.mapOf(string(key))[string(sub)] = r
	}
	return nil
}

func (m *memStore) FlushLoad() error { return nil }

func (m *memStore) Snapshot(w *Writer, opID string) error {
	return WriteArrowSnapshot(w, opID, &m.TableSet, m.scanRaw)
}

func (m *memStore) Restore(cps []*Checkpoint, opID string) error {
	return RestoreInto(cps, opID, &m.TableSet, m)
}

func (m *memStore) Close() error {
	m.groups = nil
	return nil
}
