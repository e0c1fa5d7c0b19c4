package emulate

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// htaccess is what the emulator understands of one .htaccess file. Every
// directive it does not emulate is kept in warnings, never dropped silently.
type htaccess struct {
	path         string
	handlers     map[string]string // ".fcgi" -> "fcgid-script"
	execCGI      *bool             // Options +ExecCGI / -ExecCGI
	indexes      *bool             // Options +Indexes / -Indexes
	directoryIdx []string
	rewriteOn    bool
	engineSet    bool // RewriteEngine appears
	rewriteBase  string
	rules        []*rewriteRule
	denyFiles    []*regexp.Regexp // <FilesMatch> or <Files> blocks with Require all denied
	denyAll      bool             // Require all denied at the top level
	passAuth     bool             // CGIPassAuth On
	errorDocs    map[int]string
	warnings     []string
	pendingConds []*rewriteCond
}

type rewriteCond struct {
	test    string // %{REQUEST_FILENAME}...
	pattern string // without its !; for a file test (-f) or a comparison (=), what it is
	operand string // what a comparison (=, <, >, <=, >=) compares with
	negate  bool
	re      pattern // nil for file tests and comparisons
	nocase  bool
	or      bool
}

type rewriteRule struct {
	pattern     pattern
	negate      bool
	subst       string
	conds       []*rewriteCond
	last        bool // L or END
	qsa         bool
	redirect    int      // R=code: a redirect (3xx) or an error answered with its ErrorDocument
	env         []string // E=NAME:value, E=!NAME
	forbidden   bool
	gone        bool
	passThrough bool
	// B: escape backreferences, all non-alphanumeric characters or (B=list)
	// only those of escapeOnly; BNP: a space as %20, not +.
	escapeBackrefs bool
	escapeOnly     string
	escapeNoPlus   bool
	line           int
}

// parseHtaccess reads a .htaccess file. Syntax errors and directives it
// does not emulate become warnings naming file and line.
func parseHtaccess(path string) (*htaccess, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHtaccess(path, f)
}

// readHtaccess parses the .htaccess read from r; path names it in warnings.
func readHtaccess(path string, r io.Reader) (*htaccess, error) {
	h := &htaccess{path: path, handlers: map[string]string{}, errorDocs: map[int]string{}}
	sc := bufio.NewScanner(r)
	type block struct {
		kind string
		re   *regexp.Regexp
		skip bool
	}
	var stack []block
	lineNo := 0
	var cont strings.Builder
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		if strings.HasSuffix(raw, "\\") {
			cont.WriteString(strings.TrimSuffix(raw, "\\"))
			continue
		}
		cont.WriteString(raw)
		line := strings.TrimSpace(cont.String())
		cont.Reset()
		if line == "" || line[0] == '#' {
			continue
		}
		warn := func(format string, args ...any) {
			h.warnings = append(h.warnings, fmt.Sprintf("%s:%d: ", path, lineNo)+fmt.Sprintf(format, args...))
		}
		args := splitArgs(line)
		if len(args) == 0 { // a line of empty quotes
			warn("%s is not a directive", line)
			continue
		}
		name := strings.ToLower(args[0])
		args = args[1:]

		if strings.HasPrefix(name, "</") {
			if len(stack) == 0 {
				warn("%s without an opening section", args)
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if strings.HasPrefix(name, "<") {
			kind := strings.TrimPrefix(name, "<")
			arg := ""
			if len(args) > 0 {
				arg = strings.TrimSuffix(strings.Trim(strings.TrimSuffix(args[0], ">"), `"`), ">")
			}
			kind = strings.TrimSuffix(kind, ">")
			b := block{kind: kind}
			switch kind {
			case "ifmodule":
				// Every module a shared host has is present here; a
				// negated test is therefore false.
				b.skip = strings.HasPrefix(arg, "!")
			case "filesmatch":
				re, err := regexp.Compile(arg)
				if err != nil {
					warn("FilesMatch %q: %v", arg, err)
					b.skip = true
				}
				b.re = re
			case "files":
				b.re = regexp.MustCompile("^" + globToRegexp(arg) + "$")
			default:
				warn("<%s> sections are not emulated; their contents are ignored", kind)
				b.skip = true
			}
			if len(stack) > 0 && stack[len(stack)-1].skip {
				b.skip = true
			}
			stack = append(stack, b)
			continue
		}
		if len(stack) > 0 && stack[len(stack)-1].skip {
			continue
		}
		var inFiles *regexp.Regexp
		for _, b := range stack {
			if b.re != nil {
				inFiles = b.re
			}
		}

		switch name {
		case "require":
			denied := strings.EqualFold(strings.Join(args, " "), "all denied")
			granted := strings.EqualFold(strings.Join(args, " "), "all granted")
			switch {
			case denied && inFiles != nil:
				h.denyFiles = append(h.denyFiles, inFiles)
			case denied:
				h.denyAll = true
			case !granted:
				warn("Require %s is not emulated (only all denied / all granted)", strings.Join(args, " "))
			}
		case "deny", "order", "allow":
			if name == "deny" && strings.EqualFold(strings.Join(args, " "), "from all") {
				if inFiles != nil {
					h.denyFiles = append(h.denyFiles, inFiles)
				} else {
					h.denyAll = true
				}
			}
		case "options":
			for _, o := range args {
				on := !strings.HasPrefix(o, "-")
				switch strings.ToLower(strings.TrimLeft(o, "+-")) {
				case "execcgi":
					h.execCGI = &on
				case "indexes":
					h.indexes = &on
				case "followsymlinks", "symlinksifownermatch", "multiviews", "includes", "includesnoexec", "none", "all":
				default:
					warn("Options %s is not emulated", o)
				}
			}
		case "addhandler":
			if len(args) < 2 {
				warn("AddHandler needs a handler and extensions")
				continue
			}
			for _, ext := range args[1:] {
				if !strings.HasPrefix(ext, ".") {
					ext = "." + ext
				}
				h.handlers[strings.ToLower(ext)] = strings.ToLower(args[0])
			}
			switch strings.ToLower(args[0]) {
			case "fcgid-script", "fastcgi-script", "cgi-script":
			default:
				warn("handler %s is not emulated (fcgid-script, fastcgi-script and cgi-script are)", args[0])
			}
		case "directoryindex":
			h.directoryIdx = args
		case "rewriteengine":
			h.rewriteOn = len(args) > 0 && strings.EqualFold(args[0], "on")
			h.engineSet = true
		case "rewritebase":
			if len(args) > 0 {
				h.rewriteBase = strings.TrimRight(args[0], "/")
			}
		case "rewritecond":
			c, err := parseCond(args)
			if err != nil {
				warn("RewriteCond: %v", err)
				continue
			}
			h.pendingConds = append(h.pendingConds, c)
		case "rewriterule":
			r, unknown, err := parseRule(args)
			if err != nil {
				warn("RewriteRule: %v", err)
				h.pendingConds = nil
				continue
			}
			for _, f := range unknown {
				warn("RewriteRule flag %s is not emulated", f)
			}
			r.conds, h.pendingConds = h.pendingConds, nil
			r.line = lineNo
			h.rules = append(h.rules, r)
		case "cgipassauth":
			h.passAuth = len(args) > 0 && strings.EqualFold(args[0], "on")
		case "errordocument":
			if len(args) == 2 {
				if code, err := strconv.Atoi(args[0]); err == nil {
					h.errorDocs[code] = args[1]
					// Apache 2.4.13+ evaluates it as an expression.
					for _, ref := range varRef().FindAllStringSubmatch(args[1], -1) {
						if fn, _, ok := strings.Cut(ref[1], ":"); ok && !strings.EqualFold(fn, "reqenv") && !strings.EqualFold(fn, "env") {
							warn("ErrorDocument: %%{%s} is not emulated (%%{reqenv:NAME}, %%{env:NAME} and %%{VARIABLE} are)", ref[1])
						}
					}
					continue
				}
			}
			warn("ErrorDocument %s is not emulated (only ErrorDocument CODE /path)", strings.Join(args, " "))
		case "addtype", "adddefaultcharset", "header", "expiresactive", "expiresbytype", "addoutputfilterbytype", "setenvif", "fileetag":
			warn("%s is accepted by Apache but not emulated: responses may differ in headers", name)
		default:
			warn("%s is not emulated", name)
		}
	}
	if len(stack) > 0 {
		h.warnings = append(h.warnings, fmt.Sprintf("%s: <%s> section not closed", path, stack[len(stack)-1].kind))
	}
	if len(h.pendingConds) > 0 {
		h.warnings = append(h.warnings, fmt.Sprintf("%s: RewriteCond without a RewriteRule after it", path))
	}
	return h, sc.Err()
}

// splitArgs splits a directive line into words, keeping quoted strings.
func splitArgs(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == '\\' && i+1 < len(line) && inQuote:
			i++
			cur.WriteByte(line[i])
		case (c == ' ' || c == '\t') && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func globToRegexp(glob string) string {
	var b strings.Builder
	for _, c := range glob {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

func parseFlags(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseCond(args []string) (*rewriteCond, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("needs a test string and a condition")
	}
	c := &rewriteCond{test: args[0], pattern: args[1]}
	if len(args) > 2 {
		for _, f := range parseFlags(args[2]) {
			switch strings.ToUpper(f) {
			case "NC", "NOCASE":
				c.nocase = true
			case "OR", "ORNEXT":
				c.or = true
			default:
				return nil, fmt.Errorf("flag %s is not emulated", f)
			}
		}
	}
	p := c.pattern
	if strings.HasPrefix(p, "!") {
		c.negate, p = true, p[1:]
	}
	switch p {
	case "-f", "-d", "-s", "-l", "-h", "-L", "-x", "-F", "-U":
		c.pattern = p
		return c, nil
	}
	if strings.HasPrefix(p, "-") {
		return nil, fmt.Errorf("%s is not emulated (-f, -d, -s, -l, -x and regular expressions are)", p)
	}
	// A lexicographic comparison: =500, !=500, ="" for the empty string.
	for _, op := range []string{"<=", ">=", "=", "<", ">"} {
		if operand, ok := strings.CutPrefix(p, op); ok {
			c.pattern, c.operand = op, operand
			return c, nil
		}
	}
	if c.nocase {
		p = "(?i)" + p
	}
	re, err := compilePattern(p)
	if err != nil {
		return nil, err
	}
	c.pattern, c.re = p, re
	return c, nil
}

func parseRule(args []string) (*rewriteRule, []string, error) {
	if len(args) < 2 {
		return nil, nil, fmt.Errorf("needs a pattern and a substitution")
	}
	r := &rewriteRule{subst: args[1]}
	var unknown []string
	nocase := false
	if len(args) > 2 {
		for _, f := range parseFlags(args[2]) {
			k, v, _ := strings.Cut(f, "=")
			switch strings.ToUpper(k) {
			case "L", "LAST", "END":
				r.last = true
			case "QSA", "QSAPPEND":
				r.qsa = true
			case "PT", "PASSTHROUGH":
				r.passThrough = true
			case "NC", "NOCASE":
				nocase = true
			case "R", "REDIRECT":
				switch code, err := strconv.Atoi(v); {
				case v == "" || strings.EqualFold(v, "temp"):
					r.redirect = http.StatusFound
				case strings.EqualFold(v, "permanent"):
					r.redirect = http.StatusMovedPermanently
				case strings.EqualFold(v, "seeother"):
					r.redirect = http.StatusSeeOther
				case err != nil || code < 200 || http.StatusText(code) == "":
					return nil, nil, fmt.Errorf("flag R=%s: want a status code", v)
				default:
					r.redirect = code
				}
			case "F", "FORBIDDEN":
				r.forbidden = true
			case "G", "GONE":
				r.gone = true
			case "E", "ENV":
				name, _, _ := strings.Cut(strings.TrimPrefix(v, "!"), ":")
				if name == "" {
					return nil, nil, fmt.Errorf("flag %s: want E=NAME:value or E=!NAME", f)
				}
				r.env = append(r.env, v)
			case "B":
				r.escapeBackrefs, r.escapeOnly = true, v
			case "BNP", "BACKREFNOPLUS":
				r.escapeNoPlus = true
			case "NE", "NOESCAPE":
			default:
				unknown = append(unknown, f)
			}
		}
	}
	p := args[0]
	if strings.HasPrefix(p, "!") {
		r.negate, p = true, p[1:]
	}
	if nocase {
		p = "(?i)" + p
	}
	re, err := compilePattern(p)
	if err != nil {
		return nil, nil, err
	}
	r.pattern = re
	return r, unknown, nil
}

// loadHtaccess reads dir/.htaccess if there is one.
func loadHtaccess(dir string) (*htaccess, error) {
	h, err := parseHtaccess(filepath.Join(dir, ".htaccess"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	return h, err
}
