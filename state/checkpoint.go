package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// DefaultRetained is the number of completed checkpoints a Storage keeps.
const DefaultRetained = 3

// tmpPrefix marks a file still being written; it never appears in a manifest.
const tmpPrefix = ".tmp-"

// Storage is a directory of checkpoints, one sub-directory chk-<id> per checkpoint. It is
// safe for concurrent use.
type Storage struct {
	dir    string
	retain int
}

// NewStorage opens (creating if needed) a checkpoint directory that keeps the last retain
// completed checkpoints (DefaultRetained if retain <= 0).
func NewStorage(dir string, retain int) (*Storage, error) {
	if retain <= 0 {
		retain = DefaultRetained
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create checkpoint directory %s", dir)
	}
	return &Storage{dir: dir, retain: retain}, nil
}

// Dir returns the storage's directory.
func (s *Storage) Dir() string { return s.dir }

// CheckpointDir returns the directory of checkpoint id.
func (s *Storage) CheckpointDir(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("chk-%d", id))
}

type chkDir struct {
	id       uint64
	path     string
	complete bool
}

// list returns the storage's chk-<id> directories in ascending id order.
func (s *Storage) list() ([]chkDir, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "list checkpoint directory %s", s.dir)
	}
	var out []chkDir
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "chk-") {
			continue
		}
		id, err := strconv.ParseUint(name[4:], 10, 64)
		if err != nil || name != fmt.Sprintf("chk-%d", id) {
			continue
		}
		p := filepath.Join(s.dir, name)
		_, statErr := os.Stat(filepath.Join(p, MetadataFile))
		out = append(out, chkDir{id: id, path: p, complete: statErr == nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// NextID returns one more than the highest checkpoint id present (complete or not), so a
// restarted job never reuses the directory of an interrupted checkpoint.
func (s *Storage) NextID() (uint64, error) {
	dirs, err := s.list()
	if err != nil {
		return 0, err
	}
	if len(dirs) == 0 {
		return 1, nil
	}
	return dirs[len(dirs)-1].id + 1, nil
}

// Latest returns the newest complete checkpoint (one with a _metadata file), verified. It
// returns (nil, nil) when there is none. If the newest complete checkpoint fails
// verification Latest returns that error rather than falling back to an older one: sinks may
// already have committed the output of the newer checkpoint, so silently restoring an older
// one could duplicate output.
func (s *Storage) Latest() (*Checkpoint, error) {
	dirs, err := s.list()
	if err != nil {
		return nil, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i].complete {
			return OpenCheckpoint(dirs[i].path)
		}
	}
	return nil, nil
}

// Completed returns the ids of the complete checkpoints, ascending.
func (s *Storage) Completed() ([]uint64, error) {
	dirs, err := s.list()
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, d := range dirs {
		if d.complete {
			ids = append(ids, d.id)
		}
	}
	return ids, nil
}

// Prune applies retention after checkpoint completedID completed: it keeps the newest
// retain complete checkpoints, deletes older complete ones, and deletes incomplete
// leftovers with an id below completedID (a higher one may still be being written).
func (s *Storage) Prune(completedID uint64) error {
	dirs, err := s.list()
	if err != nil {
		return err
	}
	var complete []chkDir
	for _, d := range dirs {
		if d.complete {
			complete = append(complete, d)
		} else if d.id < completedID {
			if err := os.RemoveAll(d.path); err != nil {
				return rberr.Wrap(rberr.IO, err, "delete incomplete checkpoint %s", d.path)
			}
		}
	}
	for i := 0; i < len(complete)-s.retain; i++ {
		// Remove the manifest first, so a crash mid-delete leaves an incomplete directory.
		if err := os.Remove(filepath.Join(complete[i].path, MetadataFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rberr.Wrap(rberr.IO, err, "delete checkpoint %s", complete[i].path)
		}
		if err := os.RemoveAll(complete[i].path); err != nil {
			return rberr.Wrap(rberr.IO, err, "delete checkpoint %s", complete[i].path)
		}
	}
	return syncDir(s.dir)
}

// Begin starts writing checkpoint id. Its directory must not already exist.
func (s *Storage) Begin(id uint64) (*Writer, error) {
	dir := s.CheckpointDir(id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create checkpoint %d", id)
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	return &Writer{dir: dir, kind: "checkpoint", id: id, storage: s, files: map[string]FileEntry{}}, nil
}

// BeginSavepoint starts writing a savepoint into dir, which must not exist or be empty.
// A savepoint has the same format as a checkpoint and is self-contained.
func BeginSavepoint(dir string) (*Writer, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, rberr.New(rberr.InvalidArgument, "savepoint directory %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create savepoint directory %s", dir)
	}
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, err
	}
	return &Writer{dir: dir, kind: "savepoint", files: map[string]FileEntry{}}, nil
}

// Writer writes the files of one checkpoint or savepoint and finally its manifest. It is
// safe for concurrent use: the subtasks of a job snapshot into one Writer in parallel.
type Writer struct {
	dir     string
	kind    string
	id      uint64
	storage *Storage

	mu        sync.Mutex
	files     map[string]FileEntry
	sources   []SourcePosition
	operators map[string]*OperatorState
	done      bool
}

// Dir returns the directory being written.
func (w *Writer) Dir() string { return w.dir }

// Savepoint reports whether the writer writes a savepoint (portable: no hard links).
func (w *Writer) Savepoint() bool { return w.kind == "savepoint" }

// FileWriter is a file being written into a checkpoint under a temporary name.
type FileWriter struct {
	w    *Writer
	rel  string
	f    *os.File
	h    *xxh3.Hasher
	size int64
}

// Create starts a file at rel (a slash-separated path relative to the checkpoint). The
// caller must call Commit or Abort.
func (w *Writer) Create(rel string) (*FileWriter, error) {
	if err := checkRelPath(rel); err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "checkpoint file %q", rel)
	}
	full := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create directory for %s", full)
	}
	tmp := filepath.Join(filepath.Dir(full), tmpPrefix+filepath.Base(full))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "create %s", tmp)
	}
	return &FileWriter{w: w, rel: rel, f: f, h: xxh3.New()}, nil
}

// Write appends to the file.
func (fw *FileWriter) Write(p []byte) (int, error) {
	n, err := fw.f.Write(p)
	fw.h.Write(p[:n])
	fw.size += int64(n)
	if err != nil {
		return n, rberr.Wrap(rberr.IO, err, "write %s", fw.f.Name())
	}
	return n, nil
}

// Commit fsyncs the file, renames it to its final name and records it in the manifest.
func (fw *FileWriter) Commit() error {
	tmp := fw.f.Name()
	if err := fw.f.Sync(); err != nil {
		fw.f.Close()
		return rberr.Wrap(rberr.IO, err, "fsync %s", tmp)
	}
	if err := fw.f.Close(); err != nil {
		return rberr.Wrap(rberr.IO, err, "close %s", tmp)
	}
	full := filepath.Join(fw.w.dir, filepath.FromSlash(fw.rel))
	if err := os.Rename(tmp, full); err != nil {
		return rberr.Wrap(rberr.IO, err, "rename %s", tmp)
	}
	return fw.w.record(FileEntry{Path: fw.rel, Size: fw.size, XXH3: fmt.Sprintf("%016x", fw.h.Sum64())})
}

// Abort discards the file.
func (fw *FileWriter) Abort() {
	fw.f.Close()
	os.Remove(fw.f.Name())
}

// WriteFile writes a whole file (temporary name, fsync, rename).
func (w *Writer) WriteFile(rel string, data []byte) error {
	fw, err := w.Create(rel)
	if err != nil {
		return err
	}
	if _, err := fw.Write(data); err != nil {
		fw.Abort()
		return err
	}
	return fw.Commit()
}

// AddFile records a file that something else (e.g. Pebble's checkpoint) already placed at
// rel inside the checkpoint directory: it is fsynced and hashed. cache, if not nil, skips
// hashing a file whose (device, inode, size, mtime) was hashed before — for immutable files
// hard-linked into consecutive checkpoints.
func (w *Writer) AddFile(rel string, cache *ChecksumCache) error {
	if err := checkRelPath(rel); err != nil {
		return rberr.Wrap(rberr.InvalidArgument, err, "checkpoint file %q", rel)
	}
	full := filepath.Join(w.dir, filepath.FromSlash(rel))
	f, err := os.Open(full)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "open %s", full)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "stat %s", full)
	}
	key, keyOK := fileKeyOf(st)
	if cache != nil && keyOK {
		if sum, ok := cache.get(key); ok {
			return w.record(FileEntry{Path: rel, Size: st.Size(), XXH3: fmt.Sprintf("%016x", sum)})
		}
	}
	if err := f.Sync(); err != nil {
		return rberr.Wrap(rberr.IO, err, "fsync %s", full)
	}
	h := xxh3.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "read %s", full)
	}
	if cache != nil && keyOK {
		cache.put(key, h.Sum64())
	}
	return w.record(FileEntry{Path: rel, Size: n, XXH3: fmt.Sprintf("%016x", h.Sum64())})
}

func (w *Writer) record(e FileEntry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return rberr.New(rberr.Internal, "checkpoint %s already committed or aborted", w.dir)
	}
	if _, dup := w.files[e.Path]; dup {
		return rberr.New(rberr.Internal, "checkpoint file %q written twice", e.Path)
	}
	w.files[e.Path] = e
	return nil
}

// AddSourcePosition records the replay position of one source split.
func (w *Writer) AddSourcePosition(source, split string, position []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sources = append(w.sources, SourcePosition{Source: source, Split: split, Position: append([]byte(nil), position...)})
}

// AddStateHandle records a state handle of operator opID. Its files must have been
// written through this Writer.
func (w *Writer) AddStateHandle(opID string, h StateHandle) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.operators == nil {
		w.operators = map[string]*OperatorState{}
	}
	op := w.operators[opID]
	if op == nil {
		op = &OperatorState{ID: opID}
		w.operators[opID] = op
	}
	op.Handles = append(op.Handles, h)
}

// Commit fsyncs every directory of the checkpoint and then writes the manifest, last and
// atomically. Only then is the checkpoint complete. For a checkpoint of a Storage,
// retention is applied afterwards.
func (w *Writer) Commit(job JobOptions) (*Checkpoint, error) {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return nil, rberr.New(rberr.Internal, "checkpoint %s already committed or aborted", w.dir)
	}
	w.done = true
	m := &Manifest{Version: ManifestVersion, Kind: w.kind, ID: w.id, CreatedUnixMs: time.Now().UnixMilli(), Job: job,
		Sources: w.sources}
	for _, f := range w.files {
		m.Files = append(m.Files, f)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	for _, op := range w.operators {
		sort.Slice(op.Handles, func(i, j int) bool {
			a, b := op.Handles[i], op.Handles[j]
			if a.KeyGroupStart != b.KeyGroupStart {
				return a.KeyGroupStart < b.KeyGroupStart
			}
			return a.Format < b.Format
		})
		m.Operators = append(m.Operators, *op)
	}
	sort.Slice(m.Operators, func(i, j int) bool { return m.Operators[i].ID < m.Operators[j].ID })
	w.mu.Unlock()

	data, err := EncodeManifest(m)
	if err != nil {
		return nil, err
	}
	// Sync every sub-directory (file renames) bottom-up before the manifest appears.
	var dirs []string
	err = filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != w.dir {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "list %s", w.dir)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDir(dirs[i]); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(w.dir, tmpPrefix+MetadataFile)
	if err := writeSynced(tmp, data); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, MetadataFile)); err != nil {
		return nil, rberr.Wrap(rberr.IO, err, "rename %s", tmp)
	}
	if err := syncDir(w.dir); err != nil {
		return nil, err
	}
	if w.storage != nil {
		if err := w.storage.Prune(w.id); err != nil {
			return nil, err
		}
	}
	return &Checkpoint{Dir: w.dir, Manifest: m}, nil
}

// Abort deletes the partly written checkpoint.
func (w *Writer) Abort() error {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	if err := os.RemoveAll(w.dir); err != nil {
		return rberr.Wrap(rberr.IO, err, "delete aborted checkpoint %s", w.dir)
	}
	return nil
}

// Checkpoint is a complete, verified checkpoint or savepoint.
type Checkpoint struct {
	Dir      string
	Manifest *Manifest
}

// Path returns the absolute location of a file of the checkpoint.
func (c *Checkpoint) Path(rel string) string { return filepath.Join(c.Dir, filepath.FromSlash(rel)) }

// OpenCheckpoint reads and verifies the checkpoint or savepoint in dir: the manifest must be present
// and intact, and every file it lists must have exactly the recorded size and checksum. Any
// failure is an error of kind Data (or NotFound) naming the file; nothing is half-loaded.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, rberr.New(rberr.NotFound, "%s is not a complete checkpoint or savepoint: no %s file", dir, MetadataFile)
		}
		return nil, rberr.Wrap(rberr.IO, err, "read %s", filepath.Join(dir, MetadataFile))
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "checkpoint %s", dir)
	}
	for _, fe := range m.Files {
		if err := verifyFile(dir, fe); err != nil {
			return nil, err
		}
	}
	return &Checkpoint{Dir: dir, Manifest: m}, nil
}

func verifyFile(dir string, fe FileEntry) error {
	full := filepath.Join(dir, filepath.FromSlash(fe.Path))
	f, err := os.Open(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return rberr.New(rberr.Data, "checkpoint %s is damaged: file %s is missing", dir, fe.Path)
		}
		return rberr.Wrap(rberr.IO, err, "open %s", full)
	}
	defer f.Close()
	h := xxh3.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "read %s", full)
	}
	if n != fe.Size {
		return rberr.New(rberr.Data, "checkpoint %s is damaged: file %s has %d bytes, the manifest records %d (truncated or overwritten)", dir, fe.Path, n, fe.Size)
	}
	if got := fmt.Sprintf("%016x", h.Sum64()); got != fe.XXH3 {
		return rberr.New(rberr.Data, "checkpoint %s is damaged: file %s has checksum %s, the manifest records %s (corrupted)", dir, fe.Path, got, fe.XXH3)
	}
	return nil
}

// ChecksumCache remembers the checksums of immutable files by (device, inode, size, mtime).
// It is safe for concurrent use.
type ChecksumCache struct {
	mu sync.Mutex
	m  map[fileKey]uint64
}

type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func fileKeyOf(st os.FileInfo) (fileKey, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(sys.Dev), ino: sys.Ino, size: st.Size(), mtime: st.ModTime().UnixNano()}, true
}

func (c *ChecksumCache) get(k fileKey) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *ChecksumCache) put(k fileKey, v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[fileKey]uint64{}
	}
	c.m[k] = v
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "create %s", path)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return rberr.Wrap(rberr.IO, err, "write %s", path)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return rberr.Wrap(rberr.IO, err, "fsync %s", path)
	}
	if err := f.Close(); err != nil {
		return rberr.Wrap(rberr.IO, err, "close %s", path)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "open directory %s", dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return rberr.Wrap(rberr.IO, err, "fsync directory %s", dir)
	}
	return nil
}
