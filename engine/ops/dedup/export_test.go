package dedup

// SetRankCompactAt sets the least number of rows a streaming top-N's store holds before it
// is compacted (tests compact small stores), and returns a function that restores it.
func SetRankCompactAt(n int) func() {
	old := rankCompactAt
	rankCompactAt = n
	return func() { rankCompactAt = old }
}
