// Package elfarch tells the Go architecture of an ELF binary from its
// header: the runtime checks that an uploaded binary is for this machine,
// and the deploy tool builds for the machine of the binary on the host.
package elfarch

import "strconv"

// arches are the Linux GOARCHes by e_machine, with the class (64-bit) and
// byte order (little-endian) that tell apart those sharing one.
var arches = []struct {
	goarch          string
	machine         uint16
	class64, little bool
}{
	{"386", 3, false, true}, {"amd64", 62, true, true}, {"arm", 40, false, true}, {"arm64", 183, true, true},
	{"riscv64", 243, true, true}, {"ppc64le", 21, true, true}, {"ppc64", 21, true, false}, {"s390x", 22, true, false},
	{"loong64", 258, true, true}, {"mips64le", 8, true, true}, {"mips64", 8, true, false},
	{"mipsle", 8, false, true}, {"mips", 8, false, false},
}

// GOARCH is the Go architecture of a header's e_machine, class and byte
// order, or "" when Go builds for none.
func GOARCH(machine uint16, class64, little bool) string {
	for _, a := range arches {
		if a.machine == machine && a.class64 == class64 && a.little == little {
			return a.goarch
		}
	}
	return ""
}

// Describe names what a header is built for, for messages.
func Describe(machine uint16, class64, little bool) string {
	if a := GOARCH(machine, class64, little); a != "" {
		return a
	}
	return "machine " + strconv.Itoa(int(machine))
}
