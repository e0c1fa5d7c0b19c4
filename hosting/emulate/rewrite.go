package emulate

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// rewriteResult is the outcome of one pass of a directory's rules.
type rewriteResult struct {
	uri, query string
	status     int    // 403 (F), 410 (G), a redirect (R) or an error (R=500)
	location   string // for R
	changed    bool
}

// rewriteVars gives the values of %{NAME} for conditions and
// substitutions.
type rewriteVars struct {
	r        *http.Request
	uri      string
	filename string
	query    string
	// env is the request's environment (Apache's subprocess_env): what E=
	// sets, and after an internal redirect REDIRECT_STATUS and the earlier
	// pass's variables renamed REDIRECT_NAME. The application gets it.
	env map[string]string
}

var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`%\{([A-Za-z0-9_:\-]+)\}`) })

func (v *rewriteVars) get(name string) string {
	if h, ok := strings.CutPrefix(name, "HTTP:"); ok {
		return v.r.Header.Get(h)
	}
	// Not the process environment Apache falls back on: the host's is
	// not the developer's.
	if n, ok := strings.CutPrefix(name, "ENV:"); ok {
		return v.env[n]
	}
	switch name {
	case "REQUEST_FILENAME", "SCRIPT_FILENAME":
		return v.filename
	case "REQUEST_URI":
		return v.uri
	case "QUERY_STRING":
		return v.query
	case "REQUEST_METHOD":
		return v.r.Method
	case "HTTP_HOST":
		return v.r.Host
	case "HTTP_USER_AGENT":
		return v.r.UserAgent()
	case "HTTP_REFERER":
		return v.r.Referer()
	case "HTTP_COOKIE":
		return v.r.Header.Get("Cookie")
	case "HTTPS":
		if v.r.TLS != nil {
			return "on"
		}
		return "off"
	case "REMOTE_ADDR":
		host, _, _ := strings.Cut(v.r.RemoteAddr, ":")
		return host
	case "SERVER_PORT":
		_, port, _ := strings.Cut(v.r.Host, ":")
		return port
	case "THE_REQUEST":
		return v.r.Method + " " + v.r.RequestURI + " " + v.r.Proto
	}
	return ""
}

// expand substitutes %{NAME}, $N and %N in s in one pass, as mod_rewrite
// does: a value put in (a path holding "$1") is not expanded again. A
// backslash makes the next character literal. escape, if not nil, is
// applied to the back-references ($N, %N) put in.
func (v *rewriteVars) expand(s string, ruleGroups, condGroups []string, escape func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			continue
		case c == '%' && strings.HasPrefix(s[i:], "%{"):
			if m := varRef().FindStringSubmatch(s[i:]); m != nil && strings.HasPrefix(s[i:], m[0]) {
				b.WriteString(v.get(m[1]))
				i += len(m[0]) - 1
				continue
			}
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			groups := ruleGroups
			if c == '%' {
				groups = condGroups
			}
			if n := int(s[i+1] - '0'); n < len(groups) {
				if escape != nil {
					b.WriteString(escape(groups[n]))
				} else {
					b.WriteString(groups[n])
				}
			}
			i++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// expr evaluates an ErrorDocument as Apache 2.4.13+ does, an expression
// whose %{reqenv:NAME} and %{env:NAME} are the request's environment.
func (v *rewriteVars) expr(s string) string {
	return varRef().ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if fn, arg, ok := strings.Cut(name, ":"); ok && (strings.EqualFold(fn, "reqenv") || strings.EqualFold(fn, "env")) {
			return v.env[arg]
		}
		return v.get(name)
	})
}

// escapeBackref escapes a back-reference as the B flag does: every
// character but letters and digits, or only those of B=list; a space as
// + unless BNP.
func (rule *rewriteRule) escapeBackref(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
		switch {
		case rule.escapeOnly != "" && !strings.ContainsRune(rule.escapeOnly, rune(c)), rule.escapeOnly == "" && alnum:
			b.WriteByte(c)
		case c == ' ' && !rule.escapeNoPlus:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(lowerHex[c>>4])
			b.WriteByte(lowerHex[c&15])
		}
	}
	return b.String()
}

const lowerHex = "0123456789abcdef"

// redirected is the environment after an internal redirect with status:
// Apache renames each variable REDIRECT_NAME and sets REDIRECT_STATUS.
func redirected(env map[string]string, status int) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, val := range env {
		out["REDIRECT_"+k] = val
	}
	out["REDIRECT_STATUS"] = strconv.Itoa(status)
	return out
}

// setEnv applies a rule's E= flags, with its back-references expanded.
func (v *rewriteVars) setEnv(flags, ruleGroups, condGroups []string) {
	if v.env == nil && len(flags) > 0 {
		v.env = map[string]string{}
	}
	for _, f := range flags {
		if name, ok := strings.CutPrefix(f, "!"); ok {
			delete(v.env, name)
			continue
		}
		name, value, _ := strings.Cut(f, ":")
		v.env[name] = v.expand(value, ruleGroups, condGroups, nil)
	}
}

func (c *rewriteCond) match(v *rewriteVars, ruleGroups []string) (bool, []string) {
	test := v.expand(c.test, ruleGroups, nil, nil)
	var ok bool
	var groups []string
	operand := c.operand
	if c.nocase {
		test, operand = strings.ToLower(test), strings.ToLower(operand)
	}
	switch c.pattern {
	case "=":
		ok = test == operand
	case "<":
		ok = test < operand
	case ">":
		ok = test > operand
	case "<=":
		ok = test <= operand
	case ">=":
		ok = test >= operand
	case "-x":
		fi, err := os.Stat(test)
		ok = err == nil && fi.Mode()&0o111 != 0
	case "-f", "-F":
		fi, err := os.Stat(test)
		ok = err == nil && fi.Mode().IsRegular()
	case "-d":
		fi, err := os.Stat(test)
		ok = err == nil && fi.IsDir()
	case "-s":
		fi, err := os.Stat(test)
		ok = err == nil && fi.Mode().IsRegular() && fi.Size() > 0
	case "-l", "-h", "-L":
		fi, err := os.Lstat(test)
		ok = err == nil && fi.Mode()&os.ModeSymlink != 0
	case "-U":
		ok = true
	default:
		groups = c.re.FindStringSubmatch(test)
		ok = groups != nil
	}
	if c.negate {
		return !ok, nil
	}
	return ok, groups
}

// apply runs the rules of one .htaccess (in the directory at dirURL) on
// the path rel below it, as mod_rewrite does in a per-directory context.
func (h *htaccess) apply(v *rewriteVars, dirURL, rel string) rewriteResult {
	res := rewriteResult{uri: v.uri, query: v.query}
	for _, rule := range h.rules {
		groups := rule.pattern.FindStringSubmatch(rel)
		if (groups != nil) == rule.negate {
			continue
		}
		condGroups, ok := matchConds(rule.conds, v, groups)
		if !ok {
			continue
		}
		v.setEnv(rule.env, groups, condGroups)
		switch {
		case rule.redirect != 0 && (rule.redirect < 300 || rule.redirect > 399):
			// Not a redirect: the substitution is dropped, the status is
			// answered with its ErrorDocument.
			res.status = rule.redirect
			return res
		case rule.forbidden:
			res.status = http.StatusForbidden
			return res
		case rule.gone:
			res.status = http.StatusGone
			return res
		}
		if rule.subst != "-" {
			unsafe := false
			subst := v.expand(rule.subst, groups, condGroups, func(g string) string {
				if rule.escapeBackrefs {
					g = rule.escapeBackref(g)
				}
				unsafe = unsafe || strings.Contains(g, "?")
				return g
			})
			if unsafe {
				// A back-reference put a "?" in (a %3F of the request):
				// Apache 2.4.56+ refuses it rather than take it for a query.
				res.status = http.StatusForbidden
				return res
			}
			target, q, hasQuery := strings.Cut(subst, "?")
			if hasQuery {
				if rule.qsa && v.query != "" {
					q += "&" + v.query
				}
				res.query = q
			}
			if !strings.HasPrefix(target, "/") && !strings.Contains(target, "://") {
				base := dirURL
				if h.rewriteBase != "" {
					base = h.rewriteBase
				}
				target = strings.TrimRight(base, "/") + "/" + target
			}
			if rule.redirect != 0 {
				res.status, res.location = rule.redirect, target
				if res.query != "" {
					res.location += "?" + res.query
				}
				return res
			}
			if target != res.uri || res.query != v.query {
				res.uri, res.changed = target, true
				rel = strings.TrimPrefix(strings.TrimPrefix(target, dirURL), "/")
			}
		}
		if rule.last {
			break
		}
	}
	return res
}

func matchConds(conds []*rewriteCond, v *rewriteVars, ruleGroups []string) ([]string, bool) {
	var last []string
	ok := true
	for i := 0; i < len(conds); i++ {
		c := conds[i]
		m, groups := c.match(v, ruleGroups)
		if groups != nil {
			last = groups
		}
		if c.or {
			// A chain of [OR] conditions is true if any is.
			if m {
				for i < len(conds) && conds[i].or {
					i++
				}
				continue
			}
			continue
		}
		if !m {
			ok = false
			break
		}
	}
	return last, ok
}

// statusText is Apache's error page body for a status.
func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}
