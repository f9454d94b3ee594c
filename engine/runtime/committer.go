package runtime

// Committer is a sink's part in ending a job: after every task has finished without
// error (and the Parquet sinks have committed), the job commits each committer in the
// order they were added; if the job fails, it aborts them all. A transactional Kafka sink
// commits its last transaction there, so a bounded job's output appears only if the job
// succeeded.
type Committer interface {
	Commit() error
	Abort()
}

// AddCommitter registers a committer; operators call it from Open.
func (j *Job) AddCommitter(c Committer) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.committers = append(j.committers, c)
}

// commitAll commits every committer; after the first failure it aborts the rest.
func (j *Job) commitAll() error {
	j.mu.Lock()
	cs := j.committers
	j.committers = nil
	j.mu.Unlock()
	for i, c := range cs {
		if err := c.Commit(); err != nil {
			for _, o := range cs[i+1:] {
				o.Abort()
			}
			return err
		}
	}
	return nil
}

// abortCommitters aborts every committer not yet committed.
func (j *Job) abortCommitters() {
	j.mu.Lock()
	cs := j.committers
	j.committers = nil
	j.mu.Unlock()
	for _, c := range cs {
		c.Abort()
	}
}
