package edge

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// themeSnippet is what the edge injects for the test tenant "acme".
func themeSnippet(t testing.TB, e *testEdge) string {
	t.Helper()
	en := e.snap.Load().lookupHost("acme.example.test")
	if en == nil {
		t.Fatal("acme not in snapshot")
	}
	return string(en.themeOf().theme.Snippet)
}

// rawGet sends GET (or method) with Accept-Encoding as given and returns
// the response with its body undecoded.
func rawGet(t testing.TB, e *testEdge, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "acme.example.test"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func brBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestInjectHTML(t *testing.T) {
	const page = `<!doctype html><html><head><title>App</title></head><body><button class="btn-primary">Go</button></body></html>`
	// Each case is an upstream handler and the body the client should
	// get once decoded; want "" means the page must come back unchanged.
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		reqHdr   map[string]string
		coding   string // Content-Encoding the client must see
		injected bool
		src      string // the page as the upstream sent it (decoded)
	}{
		{name: "content-length", src: page, injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			w.Header().Set("ETag", `"abc"`)
			io.WriteString(w, page)
		}},
		{name: "chunked", src: page, injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			for i := 0; i < len(page); i += 7 {
				io.WriteString(w, page[i:min(i+7, len(page))])
				w.(http.Flusher).Flush()
			}
		}},
		{name: "head end split across reads", src: page, injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			cut := strings.Index(page, "</head>") + 4
			io.WriteString(w, page[:cut])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, page[cut:])
		}},
		{name: "uppercase tags", src: strings.ToUpper(page), injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "TEXT/HTML; Charset=UTF-8")
			io.WriteString(w, strings.ToUpper(page))
		}},
		{name: "no head", src: `<body><p>hi</p></body>`, injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<body><p>hi</p></body>`)
		}},
		{name: "gzip", src: page, injected: true, coding: "gzip", reqHdr: map[string]string{"Accept-Encoding": "gzip"}, handler: func(w http.ResponseWriter, r *http.Request) {
			b := gzipBytes([]byte(page))
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}},
		{name: "br", src: page, injected: true, coding: "br", reqHdr: map[string]string{"Accept-Encoding": "br"}, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "br")
			w.Write(brBytes([]byte(page)))
		}},
		{name: "error page from the app is branded too", src: page, injected: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			io.WriteString(w, page)
		}},
		{name: "app opts out", src: page, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("X-Edge-No-Inject", "1")
			io.WriteString(w, page)
		}},
		{name: "deflate passes through", src: page, coding: "deflate", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "deflate")
			io.WriteString(w, page) // not really deflated: the edge must not look
		}},
		{name: "partial content", src: page, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Range", "bytes 0-"+strconv.Itoa(len(page)-1)+"/"+strconv.Itoa(len(page)))
			w.WriteHeader(206)
			io.WriteString(w, page)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			e := startEdge(t, activeSource(), up.URL, nil)
			resp, body := rawGet(t, e, "GET", "/", tt.reqHdr)
			wireLen := len(body)
			if got := resp.Header.Get("Content-Encoding"); got != tt.coding {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.coding)
			}
			switch tt.coding {
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			case "br":
				var err error
				if body, err = io.ReadAll(brotli.NewReader(bytes.NewReader(body))); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := resp.Header["X-Edge-No-Inject"]; ok {
				t.Error("X-Edge-No-Inject reached the client")
			}
			want := tt.src
			if tt.injected {
				snip := themeSnippet(t, e)
				if i := strings.Index(strings.ToLower(want), "</head>"); i >= 0 {
					want = want[:i] + snip + want[i:]
				} else {
					i = strings.Index(want, "<body>") + len("<body>")
					want = want[:i] + snip + want[i:]
				}
				// The upstream's length must go. A page that had one is
				// not flushed write by write, so net/http may send the
				// length of what was written instead: then it must be
				// the injected body's.
				if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(wireLen) {
					t.Errorf("Content-Length %q on an injected response of %d bytes", cl, wireLen)
				}
			}
			if string(body) != want {
				t.Errorf("body =\n%s\nwant\n%s", body, want)
			}
			if tt.name == "content-length" && resp.Header.Get("ETag") != `W/"abc"` {
				t.Errorf("ETag = %q, want it weakened", resp.Header.Get("ETag"))
			}
		})
	}
}

// TestInjectUntouched: HEAD, 204, 304 and every non-HTML type pass
// through byte for byte, headers included.
func TestInjectUntouched(t *testing.T) {
	bin := make([]byte, 256<<10)
	rand.Read(bin)
	copy(bin, "<html><head></head>") // looks like HTML, but is not labelled so
	js := []byte(`{"html":"<head></head>"}`)
	tests := []struct {
		name, method, ctype, coding string
		status                      int
		body                        []byte
	}{
		{"octet-stream", "GET", "application/octet-stream", "", 200, bin},
		{"png", "GET", "image/png", "", 200, bin},
		{"json gzip", "GET", "application/json", "gzip", 200, gzipBytes(js)},
		{"xhtml is not text/html", "GET", "application/xhtml+xml", "", 200, []byte("<html><head></head></html>")},
		{"css", "GET", "text/css", "", 200, []byte("body{}")},
		{"html HEAD", "HEAD", "text/html", "", 200, nil},
		{"html 204", "GET", "text/html", "", 204, nil},
		{"html 304", "GET", "text/html", "", 304, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.Header().Set("ETag", `"e1"`)
				if tt.coding != "" {
					w.Header().Set("Content-Encoding", tt.coding)
				}
				if tt.body != nil {
					w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
				}
				w.WriteHeader(tt.status)
				w.Write(tt.body)
			})
			e := startEdge(t, activeSource(), up.URL, nil)
			resp, body := rawGet(t, e, tt.method, "/x", map[string]string{"Accept-Encoding": "gzip"})
			if resp.StatusCode != tt.status || !bytes.Equal(body, tt.body) && tt.method != "HEAD" {
				t.Fatalf("status %d, %d bytes; want %d, %d bytes equal", resp.StatusCode, len(body), tt.status, len(tt.body))
			}
			if resp.Header.Get("ETag") != `"e1"` {
				t.Errorf("ETag = %q, want unchanged", resp.Header.Get("ETag"))
			}
			if tt.body != nil && tt.method == "GET" && resp.ContentLength != int64(len(tt.body)) {
				t.Errorf("ContentLength = %d, want %d", resp.ContentLength, len(tt.body))
			}
		})
	}
}

// TestInjectOptOut: a brand with "inject": false and an edge with
// DisableInjection leave pages alone.
func TestInjectOptOut(t *testing.T) {
	const page = `<html><head></head><body></body></html>`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	})
	tc := tenant(1, "acme", whitelabel.StatusActive)
	tc.Tenant.BrandConfig = json.RawMessage(`{"colors":{"primary":"#123456"},"inject":false}`)
	e := startEdge(t, newFakeSource(tc), up.URL, nil)
	if _, body := rawGet(t, e, "GET", "/", nil); string(body) != page {
		t.Errorf("brand inject:false: body = %s", body)
	}
	e = startEdge(t, activeSource(), up.URL, func(c *Config) { c.DisableInjection = true })
	if _, body := rawGet(t, e, "GET", "/", nil); string(body) != page {
		t.Errorf("DisableInjection: body = %s", body)
	}
}

// TestInject100MB streams a 100 MB page through the edge and checks that
// the heap stays flat: the body is never buffered.
func TestInject100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100 MB")
	}
	const total = 100 << 20
	line := bytes.Repeat([]byte("<p>streamed line of a very long page</p>\n"), 1<<10/42+1)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(total))
		head := []byte("<!doctype html><html><head><title>big</title></head><body>")
		w.Write(head)
		n := len(head)
		for n < total {
			k := min(len(line), total-n)
			w.Write(line[:k])
			n += k
		}
	})
	e := startEdge(t, activeSource(), up.URL, nil)
	req, _ := http.NewRequest("GET", e.URL+"/big", nil)
	req.Host = "acme.example.test"
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	var got int64
	var peak uint64
	var first []byte
	for i := 0; ; i++ {
		n, err := resp.Body.Read(buf)
		if got < 4096 {
			first = append(first, buf[:n]...)
		}
		got += int64(n)
		if i%256 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	snip := themeSnippet(t, e)
	if want := int64(total + len(snip)); got != want {
		t.Errorf("read %d bytes, want %d", got, want)
	}
	if !bytes.Contains(first, []byte(snip+"</head>")) {
		t.Errorf("theme not injected at the head end: %.200s", first)
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap: base %d MiB, peak %d MiB, growth %.1f MiB over a %d MiB page", base>>20, peak>>20, float64(growth)/(1<<20), total>>20)
	if growth > 32<<20 {
		t.Errorf("heap grew %d MiB while streaming, want < 32 MiB", growth>>20)
	}
}

// BenchmarkInject100KiB sends a 100 KiB page through the whole edge
// handler (real loopback upstream), with the theme injected and with
// injection off, in the same run: the bar is at least 0.9 of the
// throughput.
func BenchmarkInject100KiB(b *testing.B) {
	page := []byte("<!doctype html><html><head><title>t</title><meta charset=utf-8></head><body>" +
		strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur.</p>\n", 100<<10/48) + "</body></html>")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	}))
	defer up.Close()
	for _, mode := range []string{"off", "injected"} {
		b.Run(mode, func(b *testing.B) {
			s, err := New(b.Context(), Config{Source: activeSource(), Plans: whitelabel.DefaultPlans(), BaseDomain: "example.test",
				Upstream: mustURL(b, up.URL), Logger: slog.New(slog.DiscardHandler), DisableInjection: mode == "off"})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				req, _ := http.NewRequest("GET", "http://acme.example.test/page", nil)
				req.Host = "acme.example.test"
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkInjectCoding compares the two ways to inject into compressed
// pages on a 100 KiB page: decode the upstream's gzip, inject and
// re-encode (what the edge does), against getting identity from the
// upstream and compressing at the edge.
func BenchmarkInjectCoding(b *testing.B) {
	page := []byte("<!doctype html><html><head><title>t</title></head><body>" +
		strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur.</p>\n", 100<<10/48) + "</body></html>")
	gz := gzipBytes(page)
	snip := []byte(`<link rel="stylesheet" href="/_edge/theme.css?v=0123456789abcdef">`)
	run := func(b *testing.B, body func() io.ReadCloser) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		buf := make([]byte, 32<<10)
		for b.Loop() {
			r := body()
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	}
	b.Run("gzip-decode-inject-encode", func(b *testing.B) {
		run(b, func() io.ReadCloser {
			return newEncodeReader(theming.NewInjector(&gzipDecoder{src: io.NopCloser(bytes.NewReader(gz))}, snip), "gzip")
		})
	})
	b.Run("identity-inject-encode", func(b *testing.B) {
		run(b, func() io.ReadCloser {
			return newEncodeReader(theming.NewInjector(io.NopCloser(bytes.NewReader(page)), snip), "gzip")
		})
	})
	b.Run("identity-inject", func(b *testing.B) {
		run(b, func() io.ReadCloser { return theming.NewInjector(io.NopCloser(bytes.NewReader(page)), snip) })
	})
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(c int)           { w.code = c }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) Flush()                      {}
