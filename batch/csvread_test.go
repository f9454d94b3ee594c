package batch

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// records reads every record of r (an error as a last record ["ERR", its kind]).
func records(r interface{ Read() ([]string, error) }) [][]string {
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return append(out, []string{"ERR", pe.Err.Error()})
			}
			return append(out, []string{"ERR", err.Error()})
		}
		out = append(out, append([]string(nil), rec...))
	}
}

// readAllCSV reads text with csvReader, through a small buffer (lines longer than it).
func readAllCSV(text string, comma, comment rune, keepEmpty bool) [][]string {
	r := newCSVReader(bufio.NewReaderSize(strings.NewReader(text), 16), comma, comment)
	r.keepEmpty = keepEmpty
	return records(r)
}

// readAllStd is encoding/csv's reading of text.
func readAllStd(text string, comma, comment rune) [][]string {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma, r.Comment, r.FieldsPerRecord = comma, comment, -1
	return records(r)
}

// Where encoding/csv is right (no \r, no empty line), the reader reads what it does, errors
// included: random texts of separators, quotes, comment marks and line breaks, with a small
// buffer so that lines are longer than it.
func TestCSVReaderAgreesWithEncodingCSV(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	alphabet := []string{"a", "b", "é", ",", ";", "\"", "\"\"", "\n", "#", " ", "xyzxyzxyzxyzxyzxyz"}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for j := rnd.Intn(30); j > 0; j-- {
			b.WriteString(alphabet[rnd.Intn(len(alphabet))])
		}
		text := b.String()
		if strings.Contains(text, "\n\n") || strings.HasPrefix(text, "\n") {
			continue // empty lines: the reader's own rule below
		}
		comma, comment := []rune{',', ';'}[rnd.Intn(2)], []rune{0, '#'}[rnd.Intn(2)]
		got, want := readAllCSV(text, comma, comment, false), readAllStd(text, comma, comment)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q (separator %q, comment %q):\n got  %q\n want %q", text, comma, comment, got, want)
		}
	}
}

func TestCSVReaderKeepsQuotedLineBreaksAndEmptyLines(t *testing.T) {
	cases := []struct {
		text      string
		keepEmpty bool
		want      [][]string
	}{
		{"s\r\n\"x\r\ny\"\r\n", false, [][]string{{"s"}, {"x\r\ny"}}},
		{"a,b\r\n1,\"p\nq\"\r\n", false, [][]string{{"a", "b"}, {"1", "p\nq"}}},
		{"a\n1\n\n3\n", true, [][]string{{"a"}, {"1"}, {""}, {"3"}}},
		{"a\r\n1\r\n\r\n", true, [][]string{{"a"}, {"1"}, {""}}},
		{"a,b\n1,2\n\n3,4\n", false, [][]string{{"a", "b"}, {"1", "2"}, {"3", "4"}}},
		{"a\n\"\"\n", true, [][]string{{"a"}, {""}}},
		{"a\n\"x\n", false, [][]string{{"a"}, {"ERR", csv.ErrQuote.Error()}}},
		{"a\nx\"y\n", false, [][]string{{"a"}, {"ERR", csv.ErrBareQuote.Error()}}},
	}
	for _, c := range cases {
		if got := readAllCSV(c.text, ',', 0, c.keepEmpty); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.text, got, c.want)
		}
	}
}

func TestCSVReaderFieldPositions(t *testing.T) {
	r := newCSVReader(bufio.NewReader(strings.NewReader("a,bb\n\"x\ny\",zz\n")), ',', 0)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if l, c := r.FieldPos(1); l != 1 || c != 3 {
		t.Fatalf("field 1 of line 1 at %d:%d", l, c)
	}
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if l, c := r.FieldPos(1); l != 3 || c != 4 {
		t.Fatalf("field 1 of the record from line 2 at %d:%d, want 3:4", l, c)
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\"x\r\ny\"\r\n", "a\n\n", "\"", "a\"b", "#c\nx"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, keepEmpty bool) {
		readAllCSV(text, ',', '#', keepEmpty) // never panics, always ends
		if !strings.ContainsAny(text, "\r") && !strings.Contains(text, "\n\n") && !strings.HasPrefix(text, "\n") {
			if got, want := readAllCSV(text, ',', '#', false), readAllStd(text, ',', '#'); !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: got %q, want %q", text, got, want)
			}
		}
	})
}
