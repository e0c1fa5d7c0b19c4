package apachefastcgi_test

import (
	"bytes"
	"os"
	"testing"
)

// The mod_fastcgi .htaccess is the mod_fcgid one, which the Apache tests
// prove, with only the handler (and the comment naming it) changed: the
// rewrite, the refused files and CGIPassAuth must never drift apart.
func TestHtaccessMatchesTheProvenOne(t *testing.T) {
	proven, err := os.ReadFile("../apache-fcgid/htaccess")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("htaccess")
	if err != nil {
		t.Fatal(err)
	}
	a, b := bytes.Split(proven, []byte("\n")), bytes.Split(ours, []byte("\n"))
	if len(a) != len(b) {
		t.Fatalf("%d lines, the mod_fcgid .htaccess has %d", len(b), len(a))
	}
	for i := range a {
		if bytes.Equal(a[i], b[i]) || i == 0 {
			continue
		}
		if string(a[i]) == "AddHandler fcgid-script .fcgi" && string(b[i]) == "AddHandler fastcgi-script .fcgi" {
			continue
		}
		t.Errorf("line %d: %q, the mod_fcgid .htaccess has %q", i+1, b[i], a[i])
	}
	if !bytes.Contains(ours, []byte("\nAddHandler fastcgi-script .fcgi\n")) {
		t.Error("no AddHandler fastcgi-script line")
	}
}
