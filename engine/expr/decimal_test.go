package expr

import (
	"math/big"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// The decimal helpers against math/big, the civil-calendar helpers against package time.

func randDec(r *rand.Rand) decimal128.Num {
	var v *big.Int
	switch r.Intn(5) {
	case 0:
		return decimal128.FromI64(r.Int63n(2000) - 1000)
	case 1:
		return decimal128.FromI64(r.Int63() - r.Int63())
	case 2: // within a few of the largest 38-digit value, or of 2^64 times its high word
		near := maxDec38.BigInt()
		if r.Intn(2) == 0 {
			near = new(big.Int).Lsh(big.NewInt(maxDec38Hi-r.Int63n(3)), 64)
		}
		v = new(big.Int).Sub(near, big.NewInt(r.Int63n(5)-2))
		if v.Cmp(maxDec38.BigInt()) > 0 {
			v = maxDec38.BigInt()
		}
	default:
		v = new(big.Int).Rand(r, maxDec38.BigInt())
	}
	if r.Intn(2) == 0 {
		v.Neg(v)
	}
	return decimal128.FromBigInt(v)
}

func TestDecimalArithmeticAgainstBig(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	limit := maxDec38.BigInt()
	fits := func(v *big.Int) bool { return new(big.Int).Abs(v).Cmp(limit) <= 0 }
	for i := 0; i < 20000; i++ {
		a, b := randDec(r), randDec(r)
		sum := new(big.Int).Add(a.BigInt(), b.BigInt())
		got, ok := DecAdd(a, b)
		if ok != fits(sum) || (ok && got.BigInt().Cmp(sum) != 0) {
			t.Fatalf("decAdd(%s, %s) = %s, %v; want %s", a.BigInt(), b.BigInt(), got.BigInt(), ok, sum)
		}
		prod := new(big.Int).Mul(a.BigInt(), b.BigInt())
		got, ok = decMul(a, b)
		if ok != fits(prod) || (ok && got.BigInt().Cmp(prod) != 0) {
			t.Fatalf("decMul(%s, %s) = %s, %v; want %s", a.BigInt(), b.BigInt(), got.BigInt(), ok, prod)
		}
		sa, sb := int32(r.Intn(20)), int32(r.Intn(20))
		x := new(big.Rat).SetFrac(a.BigInt(), pow10Big(sa))
		y := new(big.Rat).SetFrac(b.BigInt(), pow10Big(sb))
		if c := decCmp(a, sa, b, sb); c != x.Cmp(y) {
			t.Fatalf("decCmp(%s/10^%d, %s/10^%d) = %d", a.BigInt(), sa, b.BigInt(), sb, c)
		}
	}
}

func TestDecimalRescaleRoundsHalfAwayFromZero(t *testing.T) {
	cases := []struct {
		in       int64
		from, to int32
		want     int64
	}{{25, 1, 0, 3}, {-25, 1, 0, -3}, {24, 1, 0, 2}, {-1555, 3, 2, -156}, {1549, 3, 1, 15}, {7, 0, 3, 7000}}
	for _, c := range cases {
		got, ok := decRescale(decimal128.FromI64(c.in), c.from, c.to)
		if !ok || got.BigInt().Int64() != c.want {
			t.Errorf("decRescale(%d, %d, %d) = %s, %v; want %d", c.in, c.from, c.to, got.BigInt(), ok, c.want)
		}
	}
	if _, ok := decRescale(maxDec38, 0, 1); ok {
		t.Error("rescaling 38 nines up must overflow")
	}
}

func TestParseDecimal(t *testing.T) {
	cases := map[string]string{"1.555": "156", "-1.555": "-156", " 12 ": "1200", "1e2": "10000", "-0.005": "-1",
		"0.004": "0", ".5": "50", "5.": "500"}
	for in, want := range cases {
		got, ok := parseDecimal(in, 20, 2)
		if !ok || got.BigInt().String() != want {
			t.Errorf("parseDecimal(%q) = %s, %v; want %s", in, got.BigInt(), ok, want)
		}
	}
	for _, bad := range []string{"", "abc", "1.2.3", "1e", "--1", "0x10", "1_0"} {
		if _, ok := parseDecimal(bad, 20, 2); ok {
			t.Errorf("parseDecimal(%q) must fail", bad)
		}
	}
	if _, ok := parseDecimal("1000", 5, 2); ok {
		t.Error("1000 does not fit decimal(5, 2)")
	}
}

func TestCivilDaysAgainstTime(t *testing.T) {
	for days := int64(-800_000); days <= 3_000_000; days += 37 {
		tm := time.Unix(days*86400, 0).UTC()
		y, m, d := civilFromDays(days)
		if y != int64(tm.Year()) || m != int64(tm.Month()) || d != int64(tm.Day()) {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d; want %s", days, y, m, d, tm.Format(time.DateOnly))
		}
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d; want %d", y, m, d, back, days)
		}
	}
}

func TestFormatFloatReadsBack(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 10000; i++ {
		f := r.NormFloat64() * float64(int64(1)<<r.Intn(60)) / float64(int64(1)<<r.Intn(60))
		s := formatFloat(f, 64)
		if back, err := strconv.ParseFloat(s, 64); err != nil || back != f {
			t.Fatalf("formatFloat(%v) = %q does not read back", f, s)
		}
	}
}

func TestDecRescaleExactRefusesToDropDigits(t *testing.T) {
	for _, c := range []struct {
		in       int64
		from, to int32
		want     int64
		ok       bool
	}{{225, 2, 0, 0, false}, {200, 2, 0, 2, true}, {-150, 2, 1, -15, true}, {-155, 2, 1, 0, false}, {7, 0, 3, 7000, true}} {
		got, ok := decRescaleExact(decimal128.FromI64(c.in), c.from, c.to)
		if ok != c.ok || ok && got != decimal128.FromI64(c.want) {
			t.Errorf("decRescaleExact(%d, %d, %d) = %s, %v; want %d, %v", c.in, c.from, c.to, got.BigInt(), ok, c.want, c.ok)
		}
	}
}
