package elfarch

import "testing"

func TestGOARCH(t *testing.T) {
	for _, tc := range []struct {
		machine         uint16
		class64, little bool
		want            string
	}{
		{62, true, true, "amd64"},
		{183, true, true, "arm64"},
		{21, true, true, "ppc64le"},
		{21, true, false, "ppc64"}, // same machine, other byte order
		{8, false, true, "mipsle"},
		{62, false, true, ""}, // amd64 is never 32-bit
		{999, true, true, ""},
	} {
		if got := GOARCH(tc.machine, tc.class64, tc.little); got != tc.want {
			t.Errorf("GOARCH(%d, %v, %v) = %q, want %q", tc.machine, tc.class64, tc.little, got, tc.want)
		}
	}
	if got := Describe(999, true, true); got != "machine 999" {
		t.Errorf("Describe of an unknown machine: %q", got)
	}
}
