// Package window owns event- and processing-time window aggregation: the window
// definitions (tumbling, sliding, cumulate) and how rows are assigned to them (Windower),
// the window aggregation operator that fires panes as the watermark passes their end and
// routes late rows, and session windows, which merge as rows arrive (session.go); their
// checkpointed state (state.go).
package window
