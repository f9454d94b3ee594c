package process

// StateRows is the number of state rows the operator's batches hold (live or not).
func (o *ProcessOp) StateRows() int { return o.states.HeldRows() }
