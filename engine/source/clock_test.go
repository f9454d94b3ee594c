package source

import (
	"math"
	"testing"
)

// A lane marked idle stops holding the watermark back; when every lane is idle (or
// ended), the watermark goes to the highest an idle lane reached, as a task's inputs do,
// so that one subtask reading several partitions advances as several subtasks would.
func TestClockIdleLanes(t *testing.T) {
	c := NewClock(0, 0, 10)
	busy, quiet, late := c.addLane(), c.addLane(), c.addLane()
	mark := func(lane int, ts int64) {
		c.running[lane] = max(c.running[lane], ts)
		c.low[lane] = max(c.low[lane], c.wmOf(c.running[lane]))
	}
	mark(busy, 1000)
	mark(quiet, 200)
	check := func(step string, want int64) {
		t.Helper()
		if got := c.lowest(); got != want {
			t.Fatalf("%s: watermark %d, want %d", step, got, want)
		}
	}
	check("all active", math.MinInt64) // the lane not read yet holds it
	c.setIdle(late, true)
	check("one idle", 200-10-1)
	c.setIdle(busy, true)
	check("busy lane idle first", 200-10-1)
	c.setIdle(quiet, true)
	check("all idle", 1000-10-1)
	c.setIdle(quiet, false)
	check("quiet lane resumes", 200-10-1) // Run never sends a watermark lower than one sent
	mark(quiet, 5000)
	check("quiet lane moves on", 5000-10-1)
	c.low[quiet] = math.MaxInt64 // ended
	check("ended and idle", 1000-10-1)
	c.setIdle(busy, false)
	check("busy lane resumes", 1000-10-1)
}
