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

	"github.com/joho/godotenv"
)

// EnvFile is a parsed env file.
type EnvFile struct {
	path   string
	values map[string]string
	lines  map[string]int // line of each name, for messages
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

var assignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]`)

func nameLines(data []byte) map[string]int {
	lines := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if m := assignment.FindSubmatch(sc.Bytes()); m != nil {
			lines[string(m[1])] = n
		}
	}
	return lines
}

// lookup finds name in the environment first, then in the file.
func (f *EnvFile) lookup(environ map[string]string, name string) (value, source string, line int, ok bool) {
	if v, ok := environ[name]; ok {
		return v, "environment", 0, true
	}
	if v, ok := f.values[name]; ok {
		src := filepath.Base(f.path)
		line := f.lines[name]
		if line > 0 {
			src += ":" + strconv.Itoa(line)
		}
		return v, src, line, true
	}
	return "", "", 0, false
}

// Apply puts the file's values into the process environment where the
// environment does not set them already.
func (f *EnvFile) Apply(environ map[string]string) {
	for _, k := range f.Names() {
		if _, ok := environ[k]; !ok {
			os.Setenv(k, f.values[k])
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

// Secrets are the secrets among the file's values and environ's (see the
// package function Secrets); f may be nil when the file cannot be read.
func (f *EnvFile) Secrets(environ map[string]string) []string {
	all := maps.Clone(environ)
	if f != nil {
		maps.Copy(all, f.values)
	}
	return Secrets(all)
}

// Absent reports that the file does not exist: every setting has its default.
func (f *EnvFile) Absent() bool { return f.values == nil }

// Names are the names the file sets, sorted.
func (f *EnvFile) Names() []string { return slices.Sorted(maps.Keys(f.values)) }
