package hosting

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkOpenMetrics parses text as the OpenMetrics text format
// (openmetrics.io, 1.0) the status page writes: metadata before the
// samples of each family, counters sampled as _total, info as _info,
// unique series, well-formed labels and values, and # EOF last.
func checkOpenMetrics(text string) error {
	body, ok := strings.CutSuffix(text, "# EOF\n")
	if !ok {
		return errors.New("does not end with # EOF")
	}
	meta := regexp.MustCompile(`^# (TYPE|UNIT|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$`)
	types := map[string]string{}
	seen := map[string]bool{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		where := "line " + strconv.Itoa(i+1) + " " + strconv.Quote(line) + ": "
		if m := meta.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "TYPE":
				if _, dup := types[m[2]]; dup {
					return errors.New(where + "family declared twice")
				}
				switch m[3] {
				case "counter", "gauge", "info":
				default:
					return errors.New(where + "type not used here")
				}
				types[m[2]], current = m[3], m[2]
			case "UNIT":
				if m[2] != current || !strings.HasSuffix(m[2], "_"+m[3]) {
					return errors.New(where + "unit of another family, or not its suffix")
				}
			case "HELP":
				if m[2] != current {
					return errors.New(where + "help of another family")
				}
			}
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			return errors.New(where + "neither metadata nor a sample")
		}
		want := map[string]string{"counter": current + "_total", "info": current + "_info", "gauge": current}[types[current]]
		if current == "" || m[1] != want {
			return errors.New(where + "sample outside its family (want " + want + ")")
		}
		if _, err := strconv.ParseFloat(m[3], 64); err != nil {
			return errors.New(where + "bad value")
		}
		if seen[m[1]+m[2]] {
			return errors.New(where + "series repeated")
		}
		seen[m[1]+m[2]] = true
	}
	return nil
}

func TestCheckOpenMetrics(t *testing.T) {
	for text, ok := range map[string]bool{
		"# TYPE a counter\n# HELP a A.\na_total 1\n# EOF\n":                      true,
		"# TYPE a counter\na 1\n# EOF\n":                                         false,
		"# TYPE a gauge\na 1\n":                                                  false,
		"# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n": true,
		"# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n# EOF\n":                    false,
		"# TYPE a info\na_info{v=\"q\\\"\"} 1\n# EOF\n":                          true,
	} {
		if err := checkOpenMetrics(text); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", text, err, ok)
		}
	}
}
