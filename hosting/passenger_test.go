package hosting

import "testing"

func TestFromPassenger(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           map[string]string
		addr, baseURI string
		ok            bool
	}{
		{"generic app", map[string]string{"IN_PASSENGER": "1", "PORT": "5000"}, "127.0.0.1:5000", "", true},
		{"under a sub-URI", map[string]string{"IN_PASSENGER": "1", "PORT": "5001", "PASSENGER_BASE_URI": "/app/"}, "127.0.0.1:5001", "/app", true},
		{"no port: a child of a Ruby app", map[string]string{"IN_PASSENGER": "1"}, "", "", false},
		{"port 0", map[string]string{"IN_PASSENGER": "1", "PORT": "0"}, "", "", false},
		{"port out of range", map[string]string{"IN_PASSENGER": "1", "PORT": "70000"}, "", "", false},
		{"port not a number", map[string]string{"IN_PASSENGER": "1", "PORT": "http"}, "", "", false},
		{"PORT alone: Heroku-style, not Passenger", map[string]string{"PORT": "8080"}, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, base, ok := fromPassenger(func(k string) string { return tc.env[k] })
			if addr != tc.addr || base != tc.baseURI || ok != tc.ok {
				t.Errorf("fromPassenger = %q, %q, %v; want %q, %q, %v", addr, base, ok, tc.addr, tc.baseURI, tc.ok)
			}
		})
	}
}
