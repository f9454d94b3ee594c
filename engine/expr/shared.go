package expr

import (
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// Common subexpressions. An aggregation list or a projection often computes one value in
// several places: TPC-H q1 sums l_extendedprice * (1 - l_discount) and that times
// (1 + l_tax). Share finds the calls and casts that occur more than once among a list of
// compiled expressions and makes every occurrence one sharedExpr; while the operator
// evaluates the list over a batch (between EvalCtx.StartSharing and EndSharing), a sharedExpr is
// evaluated once per batch and its value reused. Two subtrees are the same when their
// text (function, arguments and options), their literals' types and their result type
// are: no riverbed function is nondeterministic, so the same subtree gives the same
// values.

// sharedExpr is a subexpression that occurs more than once.
type sharedExpr struct{ Expr }

type memoEntry struct {
	rec arrow.RecordBatch // the batch the value is of (a conditional evaluates its operands on fewer rows)
	val compute.Datum
}

func (s *sharedExpr) Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	if !ec.sharing {
		return s.Expr.Eval(ec, rec)
	}
	if ec.memo == nil {
		ec.memo = map[*sharedExpr]memoEntry{}
	}
	if e, ok := ec.memo[s]; ok && e.rec == rec {
		return cloneDatum(e.val), nil
	}
	d, err := s.Expr.Eval(ec, rec)
	if err != nil {
		return nil, err
	}
	if old, ok := ec.memo[s]; ok {
		old.val.Release()
	}
	// The entry holds rec, so no other batch can take its address while it is kept.
	ec.memo[s] = memoEntry{rec: rec, val: cloneDatum(d)}
	return d, nil
}

// StartSharing starts reusing the values of shared subexpressions (Share) over the
// batches evaluated until EndSharing, which releases them; false (and nothing to end)
// when already sharing. An operator wraps the evaluation of its expression list over
// one batch in it:
//
//	if ec.StartSharing() {
//		defer ec.EndSharing()
//	}
func (ec *EvalCtx) StartSharing() bool {
	if ec.sharing {
		return false
	}
	ec.sharing = true
	return true
}

// EndSharing releases the values StartSharing kept.
func (ec *EvalCtx) EndSharing() {
	for _, e := range ec.memo {
		e.val.Release()
	}
	clear(ec.memo)
	ec.sharing = false
}

// Share rewrites a list of compiled expressions (which it may modify: the caller owns
// them) so that the calls and casts occurring more than once among them are one shared
// subexpression each, and returns the list. A list without any is returned as it is.
func Share(exprs []Expr) []Expr {
	keys := &shareKeys{num: map[string]int{}, memo: map[Expr]string{}}
	count := map[string]int{}
	for _, e := range exprs {
		keys.countSubtrees(e, count)
	}
	shared := map[string]*sharedExpr{}
	for k, n := range count {
		if n > 1 {
			shared[k] = nil
		}
	}
	if len(shared) == 0 {
		return exprs
	}
	out := make([]Expr, len(exprs))
	for i, e := range exprs {
		out[i], _ = keys.shareIn(e, shared)
	}
	return out
}

// shareKeys identifies subtrees: a subtree's key is its node (function and options, a
// literal's text, a column) with its result type and the numbers of its arguments' keys
// (equal keys: equal text, literal types and result types all the way down). Keys built
// from the arguments' numbers stay short however deep the expression (a sum folded over
// hundreds of columns), where its text grows with each level.
type shareKeys struct {
	num  map[string]int  // key -> its number
	memo map[Expr]string // node -> its key
}

// key is e's key; "" for one that is not a call or a cast (columns and literals are not
// worth sharing).
func (s *shareKeys) key(e Expr) string {
	switch e.(type) {
	case *callExpr, *lazyCall, *CastExpr:
		return s.keyOf(e)
	}
	return ""
}

func (s *shareKeys) keyOf(e Expr) string {
	if k, ok := s.memo[e]; ok {
		return k
	}
	ref := func(a Expr) string {
		k := s.keyOf(a)
		n, ok := s.num[k]
		if !ok {
			n = len(s.num)
			s.num[k] = n
		}
		return "#" + strconv.Itoa(n)
	}
	var b strings.Builder
	switch x := e.(type) {
	case *sharedExpr:
		return s.keyOf(x.Expr)
	case *lazyCall:
		return s.keyOf(x.callExpr)
	case *litExpr:
		b.WriteString(x.String())
	case *CastExpr:
		b.WriteString("cast(" + ref(x.Arg) + ")")
	case *callExpr:
		b.WriteString(x.own + "[")
		for _, a := range x.args {
			b.WriteString(ref(a) + ";")
		}
		b.WriteString("]")
	default:
		b.WriteString(e.String())
	}
	b.WriteString(":" + TypeName(e.Type()))
	k := b.String()
	s.memo[e] = k
	return k
}

func (s *shareKeys) countSubtrees(e Expr, count map[string]int) {
	if k := s.key(e); k != "" {
		count[k]++
	}
	for _, a := range childrenOf(e) {
		s.countSubtrees(a, count)
	}
}

func childrenOf(e Expr) []Expr {
	switch x := e.(type) {
	case *callExpr:
		return x.args
	case *lazyCall:
		return x.args
	case *CastExpr:
		return []Expr{x.Arg}
	case *sharedExpr:
		return childrenOf(x.Expr)
	}
	return nil
}

// shareIn rewrites e's subtrees bottom up: each shared one becomes the sharedExpr of its
// key (made from its first occurrence).
func (s *shareKeys) shareIn(e Expr, shared map[string]*sharedExpr) (Expr, bool) {
	k := s.key(e) // before the arguments are rewritten: their keys are those of the nodes
	switch x := e.(type) {
	case *callExpr:
		for i, a := range x.args {
			x.args[i], _ = s.shareIn(a, shared)
		}
	case *lazyCall:
		for i, a := range x.args {
			x.args[i], _ = s.shareIn(a, shared)
		}
	case *CastExpr:
		x.Arg, _ = s.shareIn(x.Arg, shared)
	default:
		return e, false
	}
	se, ok := shared[k]
	if !ok {
		return e, false
	}
	if se == nil {
		se = &sharedExpr{Expr: e}
		shared[k] = se
	}
	return se, true
}
