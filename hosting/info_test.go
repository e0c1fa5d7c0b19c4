package hosting

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDescribe(t *testing.T) {
	var got Info
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = Describe(r) })
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got.Mode != "none" || got.Version != "" {
		t.Errorf("outside the runtime: mode %q, version %q; want none and no version", got.Mode, got.Version)
	}
	s := &site{pages: &errorPages{settings: func() []setting { return nil }}, mode: modeExternal, version: "v2"}
	s.middleware(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got.Mode != "external" || got.Version != "v2" || got.Debug || got.Params != nil {
		t.Errorf("served by the runtime: %+v; want mode external, version v2, nothing shown without DEBUG", got)
	}
}
