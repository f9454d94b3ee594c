package runtime

// PartForward sends subtask i's output to subtask i of the next stage (same parallelism).
const PartForward = partForward

// Fan-out: a stage whose output feeds several edges (a shared node of a DAG plan) has one
// router per edge. Its first router holds the others in also; every message goes to each
// of them, a batch retained once per extra consumer (Arrow buffers are shared, not
// copied), so that watermarks, split markers and end of input reach every branch.

func (r *router) fanOut(m Message) error {
	for _, o := range r.also {
		if m.Rec != nil {
			m.Rec.Retain()
		}
		if err := o.Emit(m); err != nil {
			if m.Rec != nil {
				m.Rec.Release()
			}
			return err
		}
	}
	return r.emit(m)
}

// addRouter adds a router for one more outgoing edge of a task.
func (t *task) addRouter(r *router) {
	if t.out == nil {
		t.out = r
		return
	}
	t.out.also = append(t.out.also, r)
}

// all is the router and the further routers of a fanned-out task.
func (r *router) all() []*router { return append([]*router{r}, r.also...) }

// ReseqOp renumbers the source ordinals of the batches and split markers that pass
// (old -> new), so that two branches of one shared source are two sources to the reorder
// operator of a union: each branch keeps its source order, and the branches follow each
// other as the union's inputs do.
type ReseqOp struct {
	BaseOp
	Ordinals map[int]int
}

func (o *ReseqOp) renumber(m Message) Message {
	if m.Seq == SeqUnordered {
		return m
	}
	if to, ok := o.Ordinals[int(m.Seq.Source)]; ok {
		m.Seq.Source = uint64(to)
	}
	return m
}

func (o *ReseqOp) ProcessBatch(m Message, out Emitter) error { return out.Emit(o.renumber(m)) }

// ProcessControl renumbers the source of a restored source's SkippedSplits.
func (o *ReseqOp) ProcessControl(m Message, out Emitter) error {
	if sk, ok := m.Ctl.(SkippedSplits); ok {
		if to, ok := o.Ordinals[int(sk.Source)]; ok {
			sk.Source = uint64(to)
			m.Ctl = sk
		}
	}
	return out.Emit(m)
}

func (o *ReseqOp) ProcessMarker(m Message, out Emitter) error {
	if m.Kind == MsgSplitDone || m.Kind == MsgSourceDone {
		m = o.renumber(m)
	}
	return out.Emit(m)
}
