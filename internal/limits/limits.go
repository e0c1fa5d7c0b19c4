// Package limits holds the defaults of a server's limits and the rules that
// apply them, so that the FastCGI, SCGI and AJP engines (responder) and the
// plain HTTP one (hosting) enforce the same effective limits.
package limits

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Defaults, documented where users read them: responder's Default* constants.
const (
	MaxConns              = 1000
	MaxConcurrentRequests = 1000
	MaxRequestsPerConn    = 100
	MaxParamsBytes        = 1 << 20
	MaxParams             = 1000
	MaxRequestBodyBytes   = 32 << 20
	BodyBufferBytes       = 64 << 10
	MaxSpillBytes         = 256 << 20
	ReadTimeout           = 60 * time.Second
	IdleTimeout           = 120 * time.Second
	WriteTimeout          = 120 * time.Second
)

// Limits are a server's limits as its fields give them: zero means the
// default; for the body size and the timeouts, negative means no limit.
type Limits struct {
	MaxConns, MaxConcurrentRequests, MaxRequestsPerConn, MaxParamsBytes, MaxParams, BodyBufferBytes int
	MaxRequestBodyBytes, MaxSpillBytes                                                              int64
	ReadTimeout, IdleTimeout, WriteTimeout                                                          time.Duration
}

// Effective returns l with each zero field set to its default.
func (l Limits) Effective() Limits {
	return Limits{
		MaxConns:              orDefault(l.MaxConns, MaxConns),
		MaxConcurrentRequests: orDefault(l.MaxConcurrentRequests, MaxConcurrentRequests),
		MaxRequestsPerConn:    orDefault(l.MaxRequestsPerConn, MaxRequestsPerConn),
		MaxParamsBytes:        orDefault(l.MaxParamsBytes, MaxParamsBytes),
		MaxParams:             orDefault(l.MaxParams, MaxParams),
		BodyBufferBytes:       orDefault(l.BodyBufferBytes, BodyBufferBytes),
		MaxRequestBodyBytes:   orDefault(l.MaxRequestBodyBytes, MaxRequestBodyBytes),
		MaxSpillBytes:         orDefault(l.MaxSpillBytes, MaxSpillBytes),
		ReadTimeout:           orDefault(l.ReadTimeout, ReadTimeout),
		IdleTimeout:           orDefault(l.IdleTimeout, IdleTimeout),
		WriteTimeout:          orDefault(l.WriteTimeout, WriteTimeout),
	}
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// AllowedAddrs is who may connect over TCP: the configured list, or when
// that is nil the FCGI_WEB_SERVER_ADDRS environment variable's. An error
// names the entries skipped.
func AllowedAddrs(configured []netip.Addr) ([]netip.Addr, error) {
	if configured != nil {
		return configured, nil
	}
	return ParseWebServerAddrs(os.Getenv("FCGI_WEB_SERVER_ADDRS"))
}

// ParseWebServerAddrs parses v, a comma-separated list of IP addresses in
// the form of FCGI_WEB_SERVER_ADDRS. An entry that is not an IP address is
// reported in the error and skipped, never widening the list: when every
// entry is bad, the list is empty but not nil, allowing nobody.
func ParseWebServerAddrs(v string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	var errs []error
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("FCGI_WEB_SERVER_ADDRS: %q is not an IP address; entry ignored", f))
			continue
		}
		addrs = append(addrs, a.Unmap())
	}
	if addrs == nil && strings.TrimSpace(v) != "" {
		addrs = []netip.Addr{}
	}
	return addrs, errors.Join(errs...)
}
