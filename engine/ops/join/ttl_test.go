package join_test

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// clockedJoin is a HashJoinOp whose clock reads, in seconds, the split of the batch at
// hand (the batch's number in stream): the golden runs set processing time batch by batch.
type clockedJoin struct {
	*join.HashJoinOp
	now time.Time
}

func (c *clockedJoin) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	c.now = time.Unix(int64(m.Seq.Split), 0)
	return c.HashJoinOp.ProcessBatch(m, out)
}

const ttlSeconds = 4

func ttlJoinOp(how string) opstest.Op {
	var op opstest.Op
	if how == "inner" {
		op = hashJoinOp(how)
	} else {
		op = updatingJoinOp(how)
	}
	mk := op.New
	op.New = func() runtime.Operator {
		c := &clockedJoin{HashJoinOp: mk().(*join.HashJoinOp)}
		c.TTL = ttlSeconds * time.Second
		c.Now = func() time.Time { return c.now }
		return c
	}
	return op
}

// refTTLChanges is the changelog of a join with a state TTL of ttlSeconds, batch b
// arriving at second b: before each batch, every kept row whose last touch (its arrival,
// or the last arrival of a row of the other side that matched it) is ttlSeconds or more
// ago is dropped; then each row of the batch, in order, matches the kept rows of the other
// side with its key (touching them) and is kept. Output as the updating join's: pairs
// (+I); a row with no match padded with nulls (+I, left/right/full) and deleted (-D) when
// a match arrives while it is kept; semi: a left row once it has a match; anti: a left row
// without one (+I), deleted (-D) when one arrives.
func refTTLChanges(how string, steps []opstest.Step, all []event) []string {
	type held struct {
		e       event
		touched int64
		matched bool // has had a match while kept
	}
	kept := [2]map[any][]*held{{}, {}}
	padded := func(s int) bool {
		return how == "full" || (s == 0 && (how == "left" || how == "anti")) || (s == 1 && how == "right")
	}
	alone := func(s int, e event) string {
		if s == 1 {
			return opstest.Row(nil, nil, nil, nil, e.v, e.id)
		}
		if how == "semi" || how == "anti" {
			return opstest.Row(e.row()...)
		}
		return pair(e, nil)
	}
	op := func(r, o string) string {
		if how == "inner" || how == "semi" {
			return r
		}
		return r + ` | "` + o + `"`
	}
	var out []string
	pos := 0
	for _, st := range steps {
		if st.Rec == nil {
			continue
		}
		now := int64(st.Seq.Split)
		for s := range kept {
			for k, rows := range kept[s] {
				var live []*held
				for _, h := range rows {
					if h.touched > now-ttlSeconds {
						live = append(live, h)
					}
				}
				kept[s][k] = live
			}
		}
		n := int(st.Rec.NumRows())
		for _, e := range all[pos : pos+n] {
			s := e.side
			if e.k == nil {
				if padded(s) {
					out = append(out, op(alone(s, e), "+I"))
				}
				continue
			}
			others := kept[1-s][e.k]
			for _, o := range others {
				switch {
				case how == "semi" || how == "anti":
					if s == 1 && !o.matched {
						out = append(out, op(alone(0, o.e), map[bool]string{true: "+I", false: "-D"}[how == "semi"]))
					}
				default:
					if !o.matched && padded(1-s) {
						out = append(out, op(alone(1-s, o.e), "-D"))
					}
					l, r := e, o.e
					if s == 1 {
						l, r = o.e, e
					}
					out = append(out, op(pair(l, &r), "+I"))
				}
				o.matched, o.touched = true, now
			}
			if len(others) == 0 && padded(s) && how != "semi" {
				out = append(out, op(alone(s, e), "+I"))
			}
			if s == 0 && how == "semi" && len(others) > 0 {
				out = append(out, op(alone(0, e), "+I"))
			}
			kept[s][e.k] = append(kept[s][e.k], &held{e: e, touched: now, matched: len(others) > 0})
		}
		pos += n
	}
	sort.Strings(out)
	return out
}

// With a state TTL, a kept row that no row of the other side matched for the TTL is
// dropped and never matched again; the changes are the reference's straight,
// checkpointed and restored at other parallelisms (each row's last touch is in the
// state), on both backends, for every kind. The stream has rows expire and later rows of
// their keys stand alone again.
func TestJoinStateTTLThreeWays(t *testing.T) {
	steps, rows := stream(21, 60)
	defer opstest.Release(steps)
	for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
		t.Run(how+"/", func(t *testing.T) {
			want := refTTLChanges(how, steps, rows)
			// The TTL makes a difference: the join without one has more pairs.
			if how == "inner" {
				if all := refHashJoin("inner", rows); len(all) <= len(want) || len(want) < 20 {
					t.Fatalf("%d pairs with the TTL, %d without", len(want), len(all))
				}
			}
			if how == "left" {
				again := 0 // rows inserted padded after their key's earlier rows expired
				for _, r := range want {
					if strings.Contains(r, "null | null") && strings.HasSuffix(r, `"-D"`) {
						again++
					}
				}
				if again < 3 {
					t.Fatalf("only %d padded rows retracted", again)
				}
			}
			opstest.RunAll(t, ttlJoinOp(how), steps, 7, want)
		})
	}
}

// refTTLChangelog is refTTLChanges over a changelog input: a retraction (after the expiry
// before its batch) takes back the earliest kept row equal to it, if any; if that row
// had a match while kept, its pairs with the other side's kept rows of its key are deleted
// (those with rows that expired stay, as the join forgets), a semi join's row is deleted;
// if it had none, the row standing alone is deleted (an anti join's row, a padded one).
// When it was its side's last row of the key, the other side's rows stand alone again:
// inserted padded (left/right/full), inserted (anti) or deleted (semi).
func refTTLChangelog(how string, steps []opstest.Step, all []change) []string {
	type held struct {
		e       event
		touched int64
		matched bool
	}
	kept := [2]map[any][]*held{{}, {}}
	padded := func(s int) bool {
		return how == "full" || (s == 0 && (how == "left" || how == "anti")) || (s == 1 && how == "right")
	}
	alone := func(s int, e event) string {
		if s == 1 {
			return opstest.Row(nil, nil, nil, nil, e.v, e.id)
		}
		if how == "semi" || how == "anti" {
			return opstest.Row(e.row()...)
		}
		return pair(e, nil)
	}
	pairOf := func(s int, e, o event) string {
		if s == 1 {
			e, o = o, e
		}
		return pair(e, &o)
	}
	var out []string
	emit := func(r, op string) { out = append(out, r+` | "`+op+`"`) }
	pos := 0
	for _, st := range steps {
		now := int64(st.Seq.Split)
		for s := range kept {
			for k, rows := range kept[s] {
				var live []*held
				for _, h := range rows {
					if h.touched > now-ttlSeconds {
						live = append(live, h)
					}
				}
				kept[s][k] = live
			}
		}
		n := int(st.Rec.NumRows())
		for _, c := range all[pos : pos+n] {
			e, s := c.e, c.e.side
			if e.k == nil {
				if padded(s) {
					emit(alone(s, e), map[bool]string{false: "+I", true: "-D"}[c.retract])
				}
				continue
			}
			others := kept[1-s][e.k]
			if c.retract {
				rows := kept[s][e.k]
				at := slices.IndexFunc(rows, func(h *held) bool { return h.e == e })
				if at < 0 {
					continue
				}
				h := rows[at]
				kept[s][e.k] = slices.Delete(rows, at, at+1)
				switch {
				case how == "semi" && s == 0 && h.matched, how == "anti" && s == 0 && !h.matched:
					emit(alone(0, e), "-D")
				case how == "semi" || how == "anti" || how == "inner":
				case !h.matched && padded(s):
					emit(alone(s, e), "-D")
				}
				if how != "semi" && how != "anti" {
					for _, o := range others {
						emit(pairOf(s, e, o.e), "-D")
					}
				}
				if len(kept[s][e.k]) == 0 && len(others) > 0 {
					for _, o := range others {
						o.matched = false
						switch {
						case how == "semi":
							emit(alone(0, o.e), "-D")
						case how == "anti" || padded(1-s):
							emit(alone(1-s, o.e), "+I")
						}
					}
				}
				continue
			}
			for _, o := range others {
				switch {
				case how == "semi" || how == "anti":
					if s == 1 && !o.matched {
						emit(alone(0, o.e), map[bool]string{true: "+I", false: "-D"}[how == "semi"])
					}
				default:
					if !o.matched && padded(1-s) {
						emit(alone(1-s, o.e), "-D")
					}
					emit(pairOf(s, e, o.e), "+I")
				}
				o.matched, o.touched = true, now
			}
			if len(others) == 0 && padded(s) && how != "semi" {
				emit(alone(s, e), "+I")
			}
			if s == 0 && how == "semi" && len(others) > 0 {
				emit(alone(0, e), "+I")
			}
			kept[s][e.k] = append(kept[s][e.k], &held{e: e, touched: now, matched: len(others) > 0})
		}
		pos += n
	}
	sort.Strings(out)
	return out
}

// A state TTL over changelog inputs: rows expire as over append-only ones, and a
// retraction of an expired row changes nothing — straight, checkpointed and rescaled, on
// both backends.
func TestChangelogJoinStateTTLThreeWays(t *testing.T) {
	upd := [2]bool{true, true}
	steps, all := changelogStream(41, 40, upd)
	defer opstest.Release(steps)
	for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
		t.Run(how+"/", func(t *testing.T) {
			want := refTTLChangelog(how, steps, all)
			// The TTL makes a difference: the changes differ from those without one.
			if without := refChangelogJoin(how, all); slices.Equal(without, want) {
				t.Fatalf("the TTL changes nothing")
			}
			op := ttlJoinOp(how)
			mk := op.New
			op.New = func() runtime.Operator {
				c := mk().(*clockedJoin)
				if how == "semi" || how == "inner" {
					spec := *c.Spec
					spec.Schema = arrow.NewSchema(append(spec.Schema.Fields(), arrow.Field{Name: "__op", Type: arrow.BinaryTypes.String}), nil)
					c.Spec = &spec
				}
				c.Unbounded, c.Updating, c.OpCol = true, upd, [2]int{4, 4}
				return c
			}
			opstest.RunAll(t, op, steps, 7, want)
		})
	}
}
