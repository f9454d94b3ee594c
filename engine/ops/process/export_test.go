package process

// StateRows is the number of state rows the operator's batches hold (live or not).
func (o *ProcessOp) StateRows() int {
	n := 0
	for _, c := range o.states.Chunks {
		if c != nil {
			n += int(c.NumRows())
		}
	}
	return n
}
