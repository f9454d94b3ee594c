package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Stable operator ids and the checkpoint settings of a job (docs/fault-tolerance.md).

// DefaultCheckpointInterval is the interval of periodic checkpoints when checkpoint_dir
// is set without checkpoint_interval.
const DefaultCheckpointInterval = 10 * time.Second

// assignIDs gives every node of the plan its stable operator id: the user's uid if set,
// else its kind and its rank among the nodes of that kind, inputs before consumers
// ("window_agg-0"). Adding or removing a node of another kind (a filter) leaves the ids
// of the others unchanged.
func assignIDs(outs []*lnode) (map[*lnode]string, error) {
	ids := map[*lnode]string{}
	byKind := map[string]int{}
	owner := map[string]*lnode{}
	nodes := walkNodes(outs)
	for _, n := range nodes {
		if n.uid != "" {
			if other, dup := owner[n.uid]; dup {
				return nil, rberr.New(rberr.Plan, "%s and %s have the same uid %q; uids must be unique", other.name, n.name, n.uid)
			}
			owner[n.uid] = n
		}
	}
	for _, n := range nodes {
		if n.uid != "" {
			ids[n] = n.uid
			continue
		}
		for {
			id := fmt.Sprintf("%s-%d", n.op, byKind[n.op])
			byKind[n.op]++
			if _, taken := owner[id]; !taken {
				ids[n] = id
				owner[id] = n
				break
			}
		}
	}
	return ids, nil
}

// kafkaFingerprint names what a Kafka read reads: its brokers (sorted) and topics, or its
// pattern. Start and end offsets are not part of it: a restore resumes at the
// checkpoint's offsets whatever the start was.
func kafkaFingerprint(s *source.KafkaSource) string {
	brokers := append([]string(nil), s.Reader.Brokers...)
	sort.Strings(brokers)
	var what string
	if s.Pattern != nil {
		what = "pattern " + s.Pattern.String()
	} else {
		topics := append([]string(nil), s.Topics...)
		sort.Strings(topics)
		what = "topics " + strings.Join(topics, ",")
	}
	what += " at " + strings.Join(brokers, ",")
	if keys := s.Decoder.UpsertKeys; len(keys) > 0 {
		what += " as upserts by " + strings.Join(keys, ",") // the read keeps a row per key
	}
	return what
}

// sourceFingerprinter is implemented by the sources: what they read, for checkpoints.
type sourceFingerprinter interface {
	// sourceFingerprint describes what n reads ("" if nothing more than its kind says);
	// false if n reads through another node, which says it.
	sourceFingerprint(n *lnode) (string, bool)
}

// fingerprint describes what a checkpoint depends on: the sources (what they read) and
// the stateful operators, by id. It is readable, so a mismatch can be named.
func fingerprint(outs []*lnode, ids map[*lnode]string) string {
	var srcs, ops []string
	for _, n := range walkNodes(outs) {
		id := ids[n]
		if s, ok := n.impl.(sourceFingerprinter); ok {
			what, reads := s.sourceFingerprint(n)
			switch {
			case !reads:
			case what == "":
				srcs = append(srcs, fmt.Sprintf("%s=%s", id, n.op))
			default:
				srcs = append(srcs, fmt.Sprintf("%s=%s:%s", id, n.op, what))
			}
			continue
		}
		if def := logicalOps[n.op]; def != nil && def.stateful {
			if c, ok := n.impl.(stateConfigurer); ok {
				id += "{" + strings.ReplaceAll(c.stateConfig(n), ";", ",") + "}" // (entries are split at ";")
			}
			ops = append(ops, id)
		}
	}
	sort.Strings(srcs)
	sort.Strings(ops)
	return "sources[" + strings.Join(srcs, ";") + "] operators[" + strings.Join(ops, ";") + "]"
}

// parseFingerprint splits a fingerprint into its sources (id -> what it reads) and its
// operators' entries.
func parseFingerprint(s string) (map[string]string, []string) {
	m := map[string]string{}
	var ops []string
	if i, j := strings.Index(s, "sources["), strings.Index(s, "] operators["); i == 0 && j > 0 {
		for _, e := range strings.Split(s[len("sources["):j], ";") {
			if k := strings.IndexByte(e, '='); k > 0 {
				m[e[:k]] = e[k+1:]
			}
		}
		if body := strings.TrimSuffix(s[j+len("] operators["):], "]"); body != "" {
			ops = strings.Split(body, ";")
		}
	}
	return m, ops
}

// restorable says whether a checkpoint of the plan with fingerprint was restores into the
// plan with fingerprint now: the same sources and stateful operators (an operator the
// checkpoint recorded without its configuration, as builds before it was recorded did,
// matches by id), or, with dropping (allow_non_restored_state), fewer of them.
func restorable(was, now string, dropping bool) bool {
	ws, wo := parseFingerprint(was)
	ns, no := parseFingerprint(now)
	if len(ns) != len(ws) && !dropping {
		return false
	}
	for id, d := range ns {
		if w, ok := ws[id]; !ok || w != d {
			return false
		}
	}
	old := map[string]string{}
	for _, o := range wo {
		id, cfg := splitOpEntry(o)
		old[id] = cfg
	}
	if len(no) != len(wo) && !dropping {
		return false
	}
	for _, o := range no {
		id, cfg := splitOpEntry(o)
		if w, ok := old[id]; !ok || (w != cfg && w != "") {
			return false
		}
	}
	return true
}

// splitOpEntry splits an operator's fingerprint entry into its id and {its state's
// configuration} ("" if it has none).
func splitOpEntry(o string) (id, cfg string) {
	if i := strings.IndexByte(o, '{'); i > 0 && strings.HasSuffix(o, "}") {
		return o[:i], o[i+1 : len(o)-1]
	}
	return o, ""
}

// fingerprintDiff names what differs between two fingerprints.
func fingerprintDiff(was, now string) string {
	ws, wo := parseFingerprint(was)
	ns, no := parseFingerprint(now)
	var diffs []string
	for id, d := range ws {
		if nd, ok := ns[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("source %q (%s) is not in this plan", id, d))
		} else if nd != d {
			diffs = append(diffs, fmt.Sprintf("source %q read %s and now reads %s", id, d, nd))
		}
	}
	for id, d := range ns {
		if _, ok := ws[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("source %q (%s) is new", id, d))
		}
	}
	cfgs := map[string]string{}
	for _, o := range no {
		id, cfg := splitOpEntry(o)
		cfgs[id] = cfg
	}
	old := map[string]bool{}
	for _, o := range wo {
		id, cfg := splitOpEntry(o)
		old[id] = true
		switch now, ok := cfgs[id]; {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("stateful operator %q is not in this plan", id))
		case cfg == "": // recorded without its configuration (an older build): matched by id
		case now != cfg:
			diffs = append(diffs, fmt.Sprintf("stateful operator %q was a %s and is now a %s", id, cfg, now))
		}
	}
	for _, o := range no {
		if id, _ := splitOpEntry(o); !old[id] {
			diffs = append(diffs, fmt.Sprintf("stateful operator %q is new", id))
		}
	}
	sort.Strings(diffs)
	if len(diffs) == 0 {
		return "the plans differ"
	}
	return strings.Join(diffs, "; ")
}

// stateConfigurer is implemented by the stateful operators whose state means something
// only under their configuration (a window's size: the state of 5-second windows restored
// into 10-second ones would give both): the fingerprint holds it, so that a restore into
// another configuration is refused.
type stateConfigurer interface {
	stateConfig(n *lnode) string
}

// checkpointChecker is implemented by the operators that can refuse checkpoints.
type checkpointChecker interface {
	// checkCheckpointable says why a job with n cannot be checkpointed, or nil.
	checkCheckpointable(n *lnode) error
}

// spillConfig says whether the operators of a job spill the rows they hold: with a state
// backend that has a spill store (Pebble), each stateful operator subtask keeps at most
// the memory cap of rows in memory and spills the rest into the job's working directory
// (package keyed).
func spillConfig(cfg runtime.CheckpointConfig) runtime.SpillConfig {
	if !state.Spills(cfg.Backend) {
		return runtime.SpillConfig{}
	}
	sc := runtime.SpillConfig{Backend: cfg.Backend, MemoryLimit: cfg.MemoryLimit, Dir: cfg.WorkDir}
	if sc.MemoryLimit == 0 {
		sc.MemoryLimit = state.DefaultPebbleMemory
	}
	if sc.Dir == "" {
		sc.Dir = os.TempDir()
	}
	return sc
}

// checkpointConfig resolves a job's fault-tolerance options.
// positiveDuration parses option name's value v, a positive duration; empty: def.
func positiveDuration(name, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	us, err := plan.ParseDuration(v)
	if err != nil {
		return 0, rberr.Wrap(rberr.InvalidArgument, err, "%s", name)
	}
	if us <= 0 {
		return 0, rberr.New(rberr.InvalidArgument, "%s must be positive, got %q", name, v)
	}
	return time.Duration(us) * time.Microsecond, nil
}

func checkpointConfig(o plan.Options, outs []*lnode, ids map[*lnode]string, maxPar int) (runtime.CheckpointConfig, error) {
	cfg := runtime.CheckpointConfig{Backend: o.StateBackend, MemoryLimit: o.StateMemoryLimit, MaxParallelism: maxPar,
		Fingerprint: fingerprint(outs, ids), AllowNonRestoredState: o.AllowNonRestoredState, WorkDir: os.TempDir()}
	if cfg.Backend == "" {
		cfg.Backend = state.MemoryBackend
	}
	if err := state.CheckBackend(cfg.Backend); err != nil {
		return cfg, rberr.Wrap(rberr.InvalidArgument, err, "state_backend")
	}
	if o.StateMemoryLimit < 0 {
		return cfg, rberr.New(rberr.InvalidArgument, "state_memory_limit must be positive, got %d", o.StateMemoryLimit)
	}
	for _, opt := range [][2]string{{"checkpoint_interval", o.CheckpointInterval}, {"checkpoint_timeout", o.CheckpointTimeout}} {
		if opt[1] != "" && o.CheckpointDir == "" {
			return cfg, rberr.New(rberr.InvalidArgument, "%s is set but checkpoint_dir is not: give the directory checkpoints go to", opt[0])
		}
	}
	var err error
	if cfg.Timeout, err = positiveDuration("checkpoint_timeout", o.CheckpointTimeout, 0); err != nil {
		return cfg, err
	}
	if o.CheckpointDir != "" {
		for _, n := range walkNodes(outs) {
			if c, ok := n.impl.(checkpointChecker); ok {
				if err := c.checkCheckpointable(n); err != nil {
					return cfg, err
				}
			}
		}
		if cfg.Interval, err = positiveDuration("checkpoint_interval", o.CheckpointInterval, DefaultCheckpointInterval); err != nil {
			return cfg, err
		}
		dir, err := filepath.Abs(o.CheckpointDir)
		if err != nil {
			return cfg, rberr.Wrap(rberr.InvalidArgument, err, "checkpoint_dir %q", o.CheckpointDir)
		}
		o.CheckpointDir = dir
		st, err := state.NewStorage(dir, o.CheckpointsRetained)
		if err != nil {
			return cfg, err
		}
		cfg.Storage = st
		if cfg.FirstID, err = st.NextID(); err != nil {
			return cfg, err
		}
		if cfg.Backend == state.PebbleBackend {
			// Pebble's checkpoints hard-link its files: its working files must be on the
			// checkpoints' file system.
			cfg.WorkDir = filepath.Join(o.CheckpointDir, ".work")
		}
	}
	switch o.Restore {
	case "":
		return cfg, nil
	case "latest":
		if cfg.Storage == nil {
			return cfg, rberr.New(rberr.InvalidArgument, "restore=\"latest\" needs checkpoint_dir, the directory to find the latest checkpoint in")
		}
		cp, err := cfg.Storage.Latest()
		if err != nil {
			return cfg, err
		}
		cfg.Restore = cp // nil: no checkpoint yet, the job starts afresh
	default:
		cp, err := state.OpenCheckpoint(o.Restore)
		if err != nil {
			return cfg, err
		}
		cfg.Restore = cp
	}
	if cp := cfg.Restore; cp != nil {
		if fp := cp.Manifest.Job.PlanFingerprint; fp != cfg.Fingerprint && !o.AllowPlanChange && !restorable(fp, cfg.Fingerprint, false) {
			switch dropped := restorable(fp, cfg.Fingerprint, true); {
			case dropped && o.AllowNonRestoredState:
				// the plan lost sources or operators: their state is dropped (coordinator)
			case dropped:
				return cfg, rberr.New(rberr.InvalidArgument, "cannot restore %s: %s (pass allow_non_restored_state=True to drop their state)", cp.Dir, fingerprintDiff(fp, cfg.Fingerprint))
			default:
				return cfg, rberr.New(rberr.InvalidArgument, "cannot restore %s: it was taken from another plan: %s (pass allow_plan_change=True to restore it anyway: sources and operators are matched by id)", cp.Dir, fingerprintDiff(fp, cfg.Fingerprint))
			}
		}
		cfg.FirstID = max(cfg.FirstID, cp.Manifest.ID+1)
	}
	return cfg, nil
}
