package edge

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium binary, or skips the test
// (fails it under CI=true, where .ci/run installs the Debian package).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium; .ci/run does it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// TestBrowserSeesTheme loads an app page through the edge in headless
// Chromium and checks that the injected theme wins: the computed
// background of .btn-primary is the tenant's primary colour, although
// the app's own stylesheet paints it blue.
func TestBrowserSeesTheme(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := findChromium(t)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>Core app</title>
<style>.btn-primary { background-color: #007bff; color: #fff; }</style>
</head><body><h1>Dashboard</h1><button class="btn-primary" id="go">Go</button></body></html>`)
	})
	e := startEdge(t, activeSource(), up.URL, nil) // acme's primary is #ff6b35
	u, _ := url.Parse(e.URL)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The tenant's host name must reach the edge on loopback.
		chromedp.Flag("host-resolver-rules", "MAP *.example.test 127.0.0.1"),
		chromedp.Flag("proxy-server", "direct://"),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	err := chromedp.Do(ctx,
		chromedp.Navigate("http://acme.example.test:"+u.Port()+"/dashboard"),
		chromedp.WaitVisible(chromedp.ID("go")),
	)
	if err != nil {
		t.Fatalf("chromedp: %v", err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.btn-primary')).backgroundColor`))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	themeHref, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('link[rel=stylesheet]').getAttribute('href')`))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	if want := "rgb(255, 107, 53)"; bg != want { // #ff6b35
		t.Errorf(".btn-primary background = %q, want %q (theme link %q)", bg, want, themeHref)
	}
	t.Logf(".btn-primary background %s, theme %s", bg, themeHref)
}
