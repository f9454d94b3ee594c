package sql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a token.
type tokKind int

const (
	tEOF    tokKind = iota
	tIdent          // unquoted identifier or keyword (Text as written)
	tQuoted         // `quoted` or "quoted" identifier
	tString         // 'string'
	tNumber         // 123, 1.5, 1e3
	tOp             // punctuation and operators
)

// token is one lexical token with its position.
type token struct {
	kind tokKind
	text string
	pos  Pos
}

// is reports whether the token is the keyword kw (case-insensitive, unquoted).
func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "'" + t.text + "'"
	case tQuoted:
		return "`" + t.text + "`"
	}
	return "'" + t.text + "'"
}

// lex splits the SQL text into tokens; comments (-- and /* */) and white space are skipped.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n && i < len(src); {
			r, sz := utf8.DecodeRuneInString(src[i:])
			if r == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i += sz
			k += sz
		}
	}
	for i < len(src) {
		c := src[i]
		start := Pos{line, col}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			adv(1)
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errorAt(start, "unterminated comment")
			}
			adv(end + 4)
		case c == '\'':
			var b strings.Builder
			adv(1)
			for {
				if i >= len(src) {
					return nil, errorAt(start, "unterminated string literal")
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						b.WriteByte('\'')
						adv(2)
						continue
					}
					adv(1)
					break
				}
				r, sz := utf8.DecodeRuneInString(src[i:])
				b.WriteRune(r)
				adv(sz)
			}
			toks = append(toks, token{tString, b.String(), start})
		case c == '`' || c == '"':
			q := c
			var b strings.Builder
			adv(1)
			for {
				if i >= len(src) {
					return nil, errorAt(start, "unterminated quoted identifier")
				}
				if src[i] == q {
					if i+1 < len(src) && src[i+1] == q {
						b.WriteByte(q)
						adv(2)
						continue
					}
					adv(1)
					break
				}
				r, sz := utf8.DecodeRuneInString(src[i:])
				b.WriteRune(r)
				adv(sz)
			}
			if b.Len() == 0 {
				return nil, errorAt(start, "empty quoted identifier")
			}
			toks = append(toks, token{tQuoted, b.String(), start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{tNumber, src[i:j], start})
			adv(j - i)
		default:
			r, sz := utf8.DecodeRuneInString(src[i:])
			if r == '_' || unicode.IsLetter(r) {
				j := i + sz
				for j < len(src) {
					r2, sz2 := utf8.DecodeRuneInString(src[j:])
					if r2 != '_' && r2 != '$' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
						break
					}
					j += sz2
				}
				toks = append(toks, token{tIdent, src[i:j], start})
				adv(j - i)
				continue
			}
			for _, op := range []string{"<>", "!=", "<=", ">=", "||", "::"} {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{tOp, op, start})
					adv(2)
					goto next
				}
			}
			if strings.ContainsRune("(),.;*+-/%=<>[]", r) {
				toks = append(toks, token{tOp, string(r), start})
				adv(1)
				continue
			}
			if r == utf8.RuneError {
				return nil, errorAt(start, "invalid UTF-8 in the SQL text")
			}
			return nil, errorAt(start, "unexpected character %q", r)
		next:
		}
	}
	toks = append(toks, token{tEOF, "", Pos{line, col}})
	return toks, nil
}
