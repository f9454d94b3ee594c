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
