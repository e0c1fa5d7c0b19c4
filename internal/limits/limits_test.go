package limits

import (
	"net/netip"
	"testing"
	"time"
)

func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in, out Limits
	}{
		{"zero means the defaults", Limits{}, Limits{MaxConns, MaxConcurrentRequests, MaxRequestsPerConn, MaxParamsBytes, MaxParams,
			BodyBufferBytes, MaxRequestBodyBytes, MaxSpillBytes, ReadTimeout, IdleTimeout, WriteTimeout}},
		{"set values and negatives (no limit) stay",
			Limits{MaxConns: 5, MaxRequestBodyBytes: -1, ReadTimeout: -1, IdleTimeout: time.Second},
			Limits{5, MaxConcurrentRequests, MaxRequestsPerConn, MaxParamsBytes, MaxParams, BodyBufferBytes, -1, MaxSpillBytes, -1, time.Second, WriteTimeout}},
	} {
		if got := tc.in.Effective(); got != tc.out {
			t.Errorf("%s: %+v.Effective() = %+v, want %+v", tc.name, tc.in, got, tc.out)
		}
	}
}

func TestAllowedAddrs(t *testing.T) {
	t.Setenv("FCGI_WEB_SERVER_ADDRS", "127.0.0.1, nonsense")
	got, err := AllowedAddrs(nil)
	if len(got) != 1 || got[0].String() != "127.0.0.1" || err == nil {
		t.Errorf("from the environment: got %v, %v; want [127.0.0.1] and an error naming the bad entry", got, err)
	}
	if got, err := AllowedAddrs([]netip.Addr{}); len(got) != 0 || got == nil || err != nil {
		t.Errorf("configured empty list: got %#v, %v; want it kept (nobody allowed)", got, err)
	}
}
