package cgivar

import (
	"net/textproto"
	"strings"
	"testing"
)

func TestFromHeader(t *testing.T) {
	for key, want := range map[string]string{
		"User-Agent":      "HTTP_USER_AGENT",
		"accept-language": "HTTP_ACCEPT_LANGUAGE",
		"X-Forwarded-For": "HTTP_X_FORWARDED_FOR",
		"X_Underscore":    "HTTP_X_UNDERSCORE",
		"Sec-Ch-Ua-2":     "HTTP_SEC_CH_UA_2",
		"\xffé-x":         "HTTP_\xffé_X", // non-ASCII bytes kept as they came
		"":                "HTTP_",
	} {
		if got := FromHeader(key); got != want {
			t.Errorf("FromHeader(%q) = %q, want %q", key, got, want)
		}
		if got := string(AppendFromHeader([]byte("x"), []byte(key))); got != "x"+want {
			t.Errorf("AppendFromHeader(x, %q) = %q, want %q", key, got, "x"+want)
		}
	}
}

func TestToHeader(t *testing.T) {
	for _, c := range []struct {
		name, key string
		ok        bool
	}{
		{"HTTP_USER_AGENT", "User-Agent", true},
		{"HTTP_X_CUSTOM_HEADER", "X-Custom-Header", true},
		{"HTTP_X_2FA", "X-2fa", true},
		{"HTTP_lower_case", "Lower-Case", true},
		{"HTTP_A__B", "A--B", true},
		{"HTTP_", "", false},
		{"CONTENT_TYPE", "", false},
		{"http_host", "", false},
	} {
		if key, ok := ToHeader(c.name); key != c.key || ok != c.ok {
			t.Errorf("ToHeader(%q) = %q, %v; want %q, %v", c.name, key, ok, c.key, c.ok)
		}
	}
}

// The table of common headers is a shortcut: it must say what the
// computation would.
func TestCommonHeadersAsComputed(t *testing.T) {
	table := commonHeaders
	commonHeaders = nil
	defer func() { commonHeaders = table }()
	for name, key := range table {
		if got, _ := ToHeader(name); got != key {
			t.Errorf("commonHeaders[%q] = %q, computed %q", name, key, got)
		}
	}
}

func TestToHeaderCommonDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { ToHeader("HTTP_ACCEPT_LANGUAGE") }); n != 0 {
		t.Errorf("ToHeader of a common header allocates %v times", n)
	}
}

// A CGI variable survives the trip to a header key and back, and a valid
// header key comes back canonical, as net/http would write it.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"User-Agent", "x-forwarded-for", "A--b", "X_Y", "\xff-é", "", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name := FromHeader(s)
		key, ok := ToHeader(name)
		if ok != (s != "") {
			t.Fatalf("ToHeader(%q) ok = %v", name, ok)
		}
		if !ok {
			return
		}
		if back := FromHeader(key); back != name {
			t.Fatalf("%q -> %q -> %q -> %q", s, name, key, back)
		}
		if validKey(s) {
			if want := textproto.CanonicalMIMEHeaderKey(s); key != want {
				t.Fatalf("%q -> %q -> %q, want %q", s, name, key, want)
			}
		}
	})
}

// validKey reports whether s is a header key net/http accepts from a
// client (a token) whose CGI variable keeps it apart from other keys: no '_'.
func validKey(s string) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '_' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
