package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// MetadataFile is the name of a checkpoint's manifest. It is written last, atomically: a
// checkpoint directory without it is incomplete and is never used.
const MetadataFile = "_metadata"

// manifestMagic is the first line of every manifest; the number is the format version.
const manifestMagic = "riverbed-checkpoint 1\n"

// ManifestVersion is the version of the manifest format this package writes and reads.
const ManifestVersion = 1

// Manifest describes one complete checkpoint or savepoint: every file with its size and
// checksum, the sources' positions, each operator's state handles and the job's options.
type Manifest struct {
	Version int `json:"version"`
	// Kind is "checkpoint" or "savepoint".
	Kind string `json:"kind"`
	// ID is the checkpoint id (0 for a savepoint).
	ID uint64 `json:"id"`
	// CreatedUnixMs is the wall-clock time at which the manifest was written.
	CreatedUnixMs int64      `json:"created_unix_ms"`
	Job           JobOptions `json:"job"`
	// Files lists every file of the checkpoint, relative to its directory, sorted by path.
	Files     []FileEntry      `json:"files"`
	Sources   []SourcePosition `json:"sources"`
	Operators []OperatorState  `json:"operators"`
}

// JobOptions are the job settings a checkpoint depends on.
type JobOptions struct {
	// MaxParallelism is the number of key groups; a checkpoint restores only into a job with
	// the same number.
	MaxParallelism int `json:"max_parallelism"`
	// PlanFingerprint identifies the plan that wrote the checkpoint (opaque to this package).
	PlanFingerprint string `json:"plan_fingerprint,omitempty"`
}

// FileEntry is one file of a checkpoint.
type FileEntry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// XXH3 is the xxh3-64 hash of the file's bytes, 16 lower-case hex digits.
	XXH3 string `json:"xxh3"`
}

// SourcePosition is the replay position of one source split, opaque to this package.
type SourcePosition struct {
	Source   string `json:"source"`
	Split    string `json:"split"`
	Position []byte `json:"position"`
}

// OperatorState is the state of one stateful operator: handles that together cover the
// key groups its subtasks owned when the checkpoint was taken.
type OperatorState struct {
	ID      string        `json:"id"`
	Handles []StateHandle `json:"handles"`
}

// Handle formats.
const (
	// FormatArrow is one Arrow IPC file per table (see snapshotfile.go).
	FormatArrow = "arrow-ipc"
	// FormatPebble is a Pebble checkpoint directory (see pebblestate/pebble.go).
	FormatPebble = "pebble"
	// FormatTimers is one Arrow IPC file of timers (see timers.go).
	FormatTimers = "timers-arrow-ipc"
)

// StateHandle is the state of a key-group range [KeyGroupStart, KeyGroupEnd) in one format.
type StateHandle struct {
	KeyGroupStart int    `json:"key_group_start"`
	KeyGroupEnd   int    `json:"key_group_end"`
	Format        string `json:"format"`
	// Files are paths relative to the checkpoint directory; each is listed in Manifest.Files.
	Files []string `json:"files"`
	// Tables maps the tables stored in a pebble handle to their numeric ids.
	Tables []TableRef `json:"tables,omitempty"`
}

// TableRef names a table in a snapshot.
type TableRef struct {
	Name string `json:"name"`
	ID   int    `json:"id"`
	Kind Kind   `json:"kind"`
	// Types are the encodings of the key, user key and value (pebble handles).
	Types []string `json:"types,omitempty"`
}

// Operator returns the state of operator id, or nil.
func (m *Manifest) Operator(id string) *OperatorState {
	for i := range m.Operators {
		if m.Operators[i].ID == id {
			return &m.Operators[i]
		}
	}
	return nil
}

// EncodeManifest serializes a manifest: a magic line, the JSON document, and a trailer
// line with the xxh3 hash of everything before it.
func EncodeManifest(m *Manifest) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, rberr.Wrap(rberr.Internal, err, "encode checkpoint manifest")
	}
	var buf bytes.Buffer
	buf.WriteString(manifestMagic)
	buf.Write(body)
	buf.WriteByte('\n')
	sum := xxh3.Hash(buf.Bytes())
	fmt.Fprintf(&buf, "xxh3 %016x\n", sum)
	return buf.Bytes(), nil
}

// DecodeManifest parses and validates a manifest. Any truncation or corruption is an
// error of kind Data; it never returns a partly filled manifest.
func DecodeManifest(data []byte) (*Manifest, error) {
	bad := func(format string, args ...any) error {
		return rberr.New(rberr.Data, "corrupt checkpoint manifest %s: %s", MetadataFile, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(data, []byte(manifestMagic)) {
		if bytes.HasPrefix(data, []byte("riverbed-checkpoint ")) {
			return nil, bad("unsupported format version (this build reads version %d)", ManifestVersion)
		}
		return nil, bad("missing header line %q", strings.TrimSpace(manifestMagic))
	}
	const trailerLen = len("xxh3 ") + 16 + 1
	if len(data) < len(manifestMagic)+trailerLen || data[len(data)-1] != '\n' {
		return nil, bad("truncated (no checksum trailer)")
	}
	trailer := data[len(data)-trailerLen:]
	if !bytes.HasPrefix(trailer, []byte("xxh3 ")) {
		return nil, bad("truncated (no checksum trailer)")
	}
	want, err := hex.DecodeString(string(trailer[5 : 5+16]))
	if err != nil {
		return nil, bad("malformed checksum trailer")
	}
	var wantSum uint64
	for _, b := range want {
		wantSum = wantSum<<8 | uint64(b)
	}
	content := data[:len(data)-trailerLen]
	if got := xxh3.Hash(content); got != wantSum {
		return nil, bad("checksum mismatch (stored %016x, computed %016x)", wantSum, got)
	}
	dec := json.NewDecoder(bytes.NewReader(content[len(manifestMagic):]))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON document")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// validate checks the internal consistency of a manifest: versions, relative file paths
// that stay inside the checkpoint, key-group ranges within the job's max parallelism, and
// every handle file listed among the files.
func (m *Manifest) validate() error {
	bad := func(format string, args ...any) error {
		return rberr.New(rberr.Data, "invalid checkpoint manifest %s: %s", MetadataFile, fmt.Sprintf(format, args...))
	}
	if m.Version != ManifestVersion {
		return bad("version %d, expected %d", m.Version, ManifestVersion)
	}
	if m.Kind != "checkpoint" && m.Kind != "savepoint" {
		return bad("kind %q, expected checkpoint or savepoint", m.Kind)
	}
	if m.Job.MaxParallelism < 1 || m.Job.MaxParallelism > MaxKeyGroups {
		return bad("max_parallelism %d out of range [1, %d]", m.Job.MaxParallelism, MaxKeyGroups)
	}
	files := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkRelPath(f.Path); err != nil {
			return bad("file %q: %v", f.Path, err)
		}
		if files[f.Path] {
			return bad("file %q listed twice", f.Path)
		}
		files[f.Path] = true
		if f.Size < 0 {
			return bad("file %q has negative size %d", f.Path, f.Size)
		}
		if len(f.XXH3) != 16 {
			return bad("file %q has malformed checksum %q", f.Path, f.XXH3)
		}
		if _, err := hex.DecodeString(f.XXH3); err != nil {
			return bad("file %q has malformed checksum %q", f.Path, f.XXH3)
		}
	}
	ops := make(map[string]bool, len(m.Operators))
	for _, op := range m.Operators {
		if op.ID == "" {
			return bad("operator with an empty id")
		}
		if ops[op.ID] {
			return bad("operator %q listed twice", op.ID)
		}
		ops[op.ID] = true
		for _, h := range op.Handles {
			if h.KeyGroupStart < 0 || h.KeyGroupEnd > m.Job.MaxParallelism || h.KeyGroupStart >= h.KeyGroupEnd {
				return bad("operator %q: key-group range [%d, %d) outside [0, %d)", op.ID, h.KeyGroupStart, h.KeyGroupEnd, m.Job.MaxParallelism)
			}
			switch h.Format {
			case FormatArrow, FormatPebble, FormatTimers:
			default:
				return bad("operator %q: unknown state format %q", op.ID, h.Format)
			}
			for _, f := range h.Files {
				if !files[f] {
					return bad("operator %q: state file %q is not listed among the checkpoint's files", op.ID, f)
				}
			}
		}
	}
	return nil
}

// checkRelPath rejects paths that are absolute, not clean, or leave the directory, so a
// checkpoint or savepoint is self-contained.
func checkRelPath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\"):
		return fmt.Errorf("path must be relative")
	case path.Clean(p) != p:
		return fmt.Errorf("path is not clean")
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path leaves the checkpoint directory")
	case p == MetadataFile:
		return fmt.Errorf("the manifest cannot list itself")
	}
	return nil
}
