package source

import "math"

// Lanes that come and go while a source runs (Kafka partitions): added when a partition
// is assigned, idle while it has no records (it then does not hold the watermark back).

// addLane adds a watermark lane, not read yet (it holds the watermark back until it has
// rows, is idle or ends), and returns its number.
func (c *Clock) addLane() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = append(c.running, math.MinInt64)
	c.low = append(c.low, math.MinInt64)
	c.idle = append(c.idle, false)
	return len(c.low) - 1
}

// setIdle marks a lane idle (it stops holding back the watermark) or active again (it
// holds it at its own watermark from the rows read so far; the source's watermark never
// goes back, so rows of the lane behind it are late).
func (c *Clock) setIdle(lane int, idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle[lane] = idle
	if idle {
		c.low[lane] = math.MaxInt64
	} else {
		c.low[lane] = c.wmOf(c.running[lane])
	}
}
