package settings

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/joho/godotenv"
)

// EnvFile is a parsed env file, possibly read over another (see Over).
type EnvFile struct {
	path   string
	values map[string]string
	lines  map[string]int // line of each name, for messages
	// under is the file this one is read over: the names this one lacks
	// come from it. layer counts the files under this one, so that errors
	// are listed file by file, the one read first first.
	under *EnvFile
	layer int
}

// ReadEnvFile parses path. A missing file is no error: every setting has a
// default.
func ReadEnvFile(path string) (*EnvFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &EnvFile{path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("settings file %s: %w (the web server's user must be able to read it)", path, err)
	}
	return parseEnvFile(path, data)
}

func parseEnvFile(path string, data []byte) (*EnvFile, error) {
	values, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, envSyntaxError(path, data, err)
	}
	return &EnvFile{path: path, values: values, lines: nameLines(data)}, nil
}

// envSyntaxError names the line godotenv stopped at. godotenv's message
// quotes the rest of the file, secrets and all, so only its gist is kept.
func envSyntaxError(path string, data []byte, err error) error {
	what := err.Error()
	if i := strings.Index(what, " near "); i >= 0 {
		what = what[:i]
	}
	if strings.HasPrefix(what, "unterminated quoted value") {
		what = "unterminated quoted value"
	}
	return fmt.Errorf("settings file %s:%d: %s; want NAME=value (the line is not shown: it may hold a secret)", path, badLine(data), what)
}

// badLine is the line after the longest run of whole lines that parses: a
// quoted value may span lines, so a line alone cannot be judged.
func badLine(data []byte) int {
	good, n := 0, 0
	for end := 0; end < len(data) && n < 1000; n++ {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			break
		}
		end += i + 1
		if _, err := godotenv.UnmarshalBytes(data[:end]); err == nil {
			good = n + 1
		}
	}
	return good + 1
}

// assignment is compiled when first used, not as every process starts.
var assignment = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]`)
})

func nameLines(data []byte) map[string]int {
	lines := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if m := assignment().FindSubmatch(sc.Bytes()); m != nil {
			lines[string(m[1])] = n
		}
	}
	return lines
}

// Over is f read over base: f's values win, and base gives the names f
// does not set. The local emulation reads the development settings
// (mysite.dev.env) over the production ones this way.
func (f *EnvFile) Over(base *EnvFile) *EnvFile {
	top := *f
	top.under, top.layer = base, base.layer+1
	return &top
}

// value finds name in f, then in the files under it, and says which file
// had it.
func (f *EnvFile) value(name string) (string, *EnvFile, bool) {
	for l := f; l != nil; l = l.under {
		if v, ok := l.values[name]; ok {
			return v, l, true
		}
	}
	return "", nil, false
}

// origin is where a value came from: the environment, or a file's line.
type origin struct {
	source string // "mysite.env:3" or "environment"
	file   int    // 0 the environment, then 1 + the file's layer
	line   int
}

// lookup finds name in the environment first, then in the files.
func (f *EnvFile) lookup(environ map[string]string, name string) (string, origin, bool) {
	if v, ok := environ[name]; ok {
		return v, origin{source: "environment"}, true
	}
	v, l, ok := f.value(name)
	if !ok {
		return "", origin{}, false
	}
	at := origin{source: filepath.Base(l.path), file: 1 + l.layer, line: l.lines[name]}
	if at.line > 0 {
		at.source += ":" + strconv.Itoa(at.line)
	}
	return v, at, true
}

// Apply puts the files' values into the process environment where the
// environment does not set them already.
func (f *EnvFile) Apply(environ map[string]string) {
	for _, k := range f.Names() {
		if _, ok := environ[k]; !ok {
			v, _, _ := f.value(k)
			os.Setenv(k, v)
		}
	}
}

// EnvironMap is environ (os.Environ's form) as a map.
func EnvironMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Secrets are the secrets among the files' values and environ's (see the
// package function Secrets); f may be nil when a file cannot be read. A
// value a file over it hides is still a secret: it is the host's.
func (f *EnvFile) Secrets(environ map[string]string) []string {
	sets := []map[string]string{environ}
	for l := f; l != nil; l = l.under {
		sets = append(sets, l.values)
	}
	return Secrets(sets...)
}

// Absent reports that no file exists: every setting has its default.
func (f *EnvFile) Absent() bool {
	for l := f; l != nil; l = l.under {
		if l.values != nil {
			return false
		}
	}
	return true
}

// Names are the names the files set, sorted.
func (f *EnvFile) Names() []string {
	names := map[string]bool{}
	for l := f; l != nil; l = l.under {
		for k := range l.values {
			names[k] = true
		}
	}
	return slices.Sorted(maps.Keys(names))
}
