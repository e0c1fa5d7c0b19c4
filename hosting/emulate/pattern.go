package emulate

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pattern is a compiled RewriteRule or RewriteCond regular expression.
type pattern interface {
	FindStringSubmatch(s string) []string
}

// backrefBase marks a back-reference \N as the rune backrefBase+N, which
// no .htaccess pattern holds, so that Go's parser takes the pattern.
const backrefBase = 0x10FF00

// matchLimit bounds the steps of one backtracking match, as PCRE's match
// limit does in Apache: a hostile path costs milliseconds, and a match
// that needs more fails.
const matchLimit = 100_000

// compilePattern compiles a pattern as Apache's PCRE would. Go's regexp
// takes all of it but back-references (\1 to \9), which idioms such as
// `RewriteCond $0#%{REQUEST_URI} ^(.*)#(.*)\1$` use to compare two parts
// of a test string; a pattern with one is matched by backtracking over
// the syntax tree Go parses, with the same leftmost-first semantics.
func compilePattern(p string) (pattern, error) {
	marked, refs := markBackrefs(p)
	if refs == 0 {
		return regexp.Compile(p)
	}
	re, err := syntax.Parse(marked, syntax.Perl)
	if err != nil {
		return nil, err
	}
	if refs > re.MaxCap() {
		return nil, fmt.Errorf("back-reference \\%d to a group the pattern lacks", refs)
	}
	return &backtracker{re: re.Simplify(), ncap: re.MaxCap()}, nil
}

// markBackrefs replaces each \N outside a character class (N a single
// digit 1-9) with the escaped rune backrefBase+N, and returns the highest
// N; in a class, \N is what PCRE makes of it.
func markBackrefs(p string) (string, int) {
	var b strings.Builder
	highest, inClass := 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			d := p[i+1]
			single := d >= '1' && d <= '9' && (i+2 == len(p) || p[i+2] < '0' || p[i+2] > '9')
			switch {
			case single && !inClass:
				fmt.Fprintf(&b, `\x{%x}`, backrefBase+int(d-'0'))
				highest = max(highest, int(d-'0'))
			case single && d <= '7':
				fmt.Fprintf(&b, `\x{%c}`, d) // octal in a class, for PCRE
			case single:
				b.WriteByte(d)
			default:
				b.WriteString(p[i : i+2])
			}
			i++
			continue
		case c == '[' && !inClass:
			inClass = true
			// A ] first in a class, or after ^, is a literal.
			if rest := p[i+1:]; strings.HasPrefix(rest, "]") || strings.HasPrefix(rest, "^]") {
				n := strings.Index(rest, "]") + 1
				b.WriteString(p[i : i+1+n])
				i += n
				continue
			}
		case c == ']':
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String(), highest
}

type backtracker struct {
	re   *syntax.Regexp
	ncap int
}

// match is the state of one match attempt.
type match struct {
	s     string
	caps  []int // start and end of each group, -1 if unset
	steps int
}

func (bt *backtracker) FindStringSubmatch(s string) []string {
	groups, _ := bt.submatch(s)
	return groups
}

// submatch is FindStringSubmatch, with the steps it took.
func (bt *backtracker) submatch(s string) ([]string, int) {
	m := &match{s: s, caps: make([]int, 2*(bt.ncap+1))}
	for start := 0; start <= len(s); {
		for i := range m.caps {
			m.caps[i] = -1
		}
		// Past the limit, a way that got through is no match either.
		if m.match(bt.re, start, func(end int) bool { m.caps[0], m.caps[1] = start, end; return true }) && m.steps <= matchLimit {
			out := make([]string, bt.ncap+1)
			for g := range out {
				if m.caps[2*g] >= 0 {
					out[g] = s[m.caps[2*g]:m.caps[2*g+1]]
				}
			}
			return out, m.steps
		}
		if m.steps > matchLimit || start == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[start:])
		start += size
	}
	return nil, m.steps
}

// match matches re at s[i:] and calls k with where the match ends; it
// reports whether k accepted one of the ways re matches, longest or
// shortest first as re's operators are greedy or not.
func (m *match) match(re *syntax.Regexp, i int, k func(int) bool) bool {
	if m.steps++; m.steps > matchLimit {
		return false
	}
	s := m.s
	switch re.Op {
	case syntax.OpEmptyMatch:
		return k(i)
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		for _, r := range re.Rune {
			if n := int(r - backrefBase); n >= 1 && n <= 9 {
				if m.caps[2*n] < 0 {
					return false // PCRE: a group that took no part matches nothing
				}
				j, ok := m.prefix(s[m.caps[2*n]:m.caps[2*n+1]], i, fold)
				if !ok {
					return false
				}
				i = j
				continue
			}
			c, size := utf8.DecodeRuneInString(s[i:])
			if size == 0 || !(c == r || fold && sameFold(c, r)) {
				return false
			}
			i += size
		}
		return k(i)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		c, size := utf8.DecodeRuneInString(s[i:])
		if size == 0 || !matchRune(re, c) {
			return false
		}
		return k(i + size)
	case syntax.OpBeginText:
		return i == 0 && k(i)
	case syntax.OpEndText:
		return i == len(s) && k(i)
	case syntax.OpBeginLine:
		return (i == 0 || s[i-1] == '\n') && k(i)
	case syntax.OpEndLine:
		return (i == len(s) || s[i] == '\n') && k(i)
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		before := i > 0 && syntax.IsWordChar(rune(s[i-1]))
		after := i < len(s) && syntax.IsWordChar(rune(s[i]))
		return (before != after) == (re.Op == syntax.OpWordBoundary) && k(i)
	case syntax.OpCapture:
		n := re.Cap
		return m.match(re.Sub[0], i, func(j int) bool {
			a, b := m.caps[2*n], m.caps[2*n+1]
			m.caps[2*n], m.caps[2*n+1] = i, j
			if k(j) {
				return true
			}
			m.caps[2*n], m.caps[2*n+1] = a, b
			return false
		})
	case syntax.OpConcat:
		return m.concat(re.Sub, i, k)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if m.match(sub, i, k) {
				return true
			}
		}
		return false
	case syntax.OpQuest:
		return m.repeat(re, 0, 1, i, k)
	case syntax.OpStar:
		return m.repeat(re, 0, -1, i, k)
	case syntax.OpPlus:
		return m.repeat(re, 1, -1, i, k)
	case syntax.OpRepeat:
		return m.repeat(re, re.Min, re.Max, i, k)
	}
	return false // OpNoMatch
}

func (m *match) concat(subs []*syntax.Regexp, i int, k func(int) bool) bool {
	if len(subs) == 0 {
		return k(i)
	}
	return m.match(subs[0], i, func(j int) bool { return m.concat(subs[1:], j, k) })
}

// repeat matches re.Sub[0] at least min and at most max (-1: any) times.
// An iteration that matches nothing ends the loop, as in PCRE, so that
// (a*)* cannot turn forever.
func (m *match) repeat(re *syntax.Regexp, min, max, i int, k func(int) bool) bool {
	more := func() bool {
		return max != 0 && m.match(re.Sub[0], i, func(j int) bool {
			if j == i && min <= 0 {
				return false
			}
			return m.repeat(re, min-1, max-1, j, k)
		})
	}
	if min > 0 {
		return more()
	}
	if re.Flags&syntax.NonGreedy != 0 {
		return k(i) || more()
	}
	return more() || k(i)
}

// prefix matches the text of a back-reference at s[i:].
func (m *match) prefix(ref string, i int, fold bool) (int, bool) {
	if !fold {
		return i + len(ref), strings.HasPrefix(m.s[i:], ref)
	}
	for _, r := range ref {
		c, size := utf8.DecodeRuneInString(m.s[i:])
		if size == 0 || !(c == r || sameFold(c, r)) {
			return i, false
		}
		i += size
	}
	return i, true
}

func matchRune(re *syntax.Regexp, c rune) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return true
	case syntax.OpAnyCharNotNL:
		return c != '\n'
	}
	for j := 0; j+1 < len(re.Rune); j += 2 {
		if c >= re.Rune[j] && c <= re.Rune[j+1] {
			return true
		}
	}
	return false
}

func sameFold(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}
