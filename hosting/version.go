package hosting

import "runtime/debug"

// stampedVersion is set at build time, so that the log and -version say
// which upload is live:
//
//	go build -ldflags "-X github.com/fcgi-hosting/fcgi/hosting.stampedVersion=$(git describe --always --dirty)"
//
// make site and make dist do so.
var stampedVersion string

// buildVersion is the stamped version, else the one Go recorded: the main
// module's version or its VCS revision, which a build outside a checkout
// lacks ("devel").
func buildVersion() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "devel"
}
