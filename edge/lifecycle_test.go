package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestLifecycle(t *testing.T) {
	src := newFakeSource(
		tenant(1, "active", whitelabel.StatusActive),
		tenant(2, "provisioning", whitelabel.StatusProvisioning),
		tenant(3, "maintenance", whitelabel.StatusMaintenance),
		tenant(4, "suspended", whitelabel.StatusSuspended),
		tenant(5, "deactivated", whitelabel.StatusDeactivated),
	)
	up := newUpstream(t, nil)
	e := startEdge(t, src, up.URL, func(c *Config) { c.MaintenanceRetryAfter = 90 * time.Second })

	tests := []struct {
		host       string
		wantStatus int
		wantCode   whitelabel.ErrorCode
		wantPage   string // text on the HTML page
		retryAfter string
	}{
		{"active.example.test", 200, "", "", ""},
		{"provisioning.example.test", 503, whitelabel.CodeUnavailable, "being set up", ""},
		{"maintenance.example.test", 503, whitelabel.CodeUnavailable, "maintenance", "90"},
		{"suspended.example.test", 403, whitelabel.CodeForbidden, "suspended", ""},
		{"deactivated.example.test", 410, whitelabel.CodeGone, "deactivated", ""},
	}
	for _, tt := range tests {
		for _, html := range []bool{false, true} {
			name := tt.host + "/json"
			hdr := map[string]string{"Accept": "application/json"}
			if html {
				name = tt.host + "/html"
				hdr = map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
			}
			t.Run(name, func(t *testing.T) {
				before := len(up.requests())
				resp, body := e.do(t, "GET", tt.host, "/dashboard", hdr)
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("GET %s: status %d, want %d (%s)", tt.host, resp.StatusCode, tt.wantStatus, body)
				}
				if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
				}
				if tt.wantStatus == 200 {
					if body != "upstream ok" {
						t.Errorf("body %q, want the upstream's", body)
					}
					return
				}
				if n := len(up.requests()); n != before {
					t.Errorf("a %d refusal reached the upstream", tt.wantStatus)
				}
				if html {
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
						t.Fatalf("Content-Type %q, want HTML", ct)
					}
					// Branded: the tenant's name and colour from BrandConfig.
					brand := strings.TrimSuffix(tt.host, ".example.test") + " Brand"
					for _, want := range []string{tt.wantPage, brand, "#ff6b35"} {
						if !strings.Contains(body, want) {
							t.Errorf("page lacks %q:\n%s", want, body)
						}
					}
					return
				}
				var eb errorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != tt.wantCode || !strings.Contains(eb.Error.Message, tt.wantPage) {
					t.Errorf("JSON body %s, want code %s with %q", body, tt.wantCode, tt.wantPage)
				}
				if resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
			})
		}
	}
}

func TestStatusRefusalUnknownStatusFailsClosed(t *testing.T) {
	if statusRefusal("weird") == nil {
		t.Fatal("statusRefusal(weird) = nil: an unknown status must not open the site")
	}
	if statusRefusal(whitelabel.StatusActive) != nil {
		t.Fatal("statusRefusal(active) != nil")
	}
}

func TestWriteErrorInternalHidesCause(t *testing.T) {
	up := newUpstream(t, nil)
	e := startEdge(t, newFakeSource(), up.URL, nil)
	rec := httptestRecorder()
	req, _ := http.NewRequest("GET", "http://x/", nil)
	st := &reqState{requestID: "rid-1"}
	req = req.WithContext(contextWithState(req.Context(), st))
	e.writeError(rec, req, errDown)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "fake store") || !strings.Contains(rec.Body.String(), "rid-1") {
		t.Fatalf("got %d %s, want a generic 500 with the request id", rec.Code, rec.Body.String())
	}
	if st.err != errDown {
		t.Errorf("private cause not recorded for the log: %v", st.err)
	}
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func contextWithState(ctx context.Context, st *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}
