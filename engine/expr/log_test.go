package expr

import (
	"math"
	"testing"
)

// log is right for subnormal numbers (Go's amd64 Log is not): x = frac * 2^exp with frac
// a normal number, whose Log is right, so ln x = ln frac + exp ln 2.
func TestLogOfSubnormals(t *testing.T) {
	for _, x := range []float64{5e-324, 1e-320, 1e-310, math.Nextafter(0x1p-1022, 0), 0x1p-1022, 1e-300, 0.5, 1000} {
		frac, exp := math.Frexp(x)
		want := math.Log(frac) + float64(exp)*math.Ln2
		if got := logNormal(x); math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("ln %g = %v, want %v", x, got, want)
		}
	}
}
