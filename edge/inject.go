package edge

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"

	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/theming"
)

// headerNoInject, sent by the core app on a response, asks the edge not
// to add the theme to it. The edge removes it before the client sees it.
const headerNoInject = "X-Edge-No-Inject"

// modifyResponse is the proxy's ModifyResponse hook: it removes the
// edge's own response headers, and the upstream's RateLimit-Policy and
// RateLimit fields when the limits layer set the edge's (the tenant's
// quotas at the edge are the ones its clients are held to), adds the
// theme to HTML pages (injectTheme) and holds large bodies for
// serveProxy's copy (holdLarge, proxy.go). It never fails the response.
func (s *Server) modifyResponse(resp *http.Response) error {
	_, noInject := resp.Header[headerNoInject]
	delete(resp.Header, headerNoInject)
	if resp.Request != nil {
		if st := stateFrom(resp.Request.Context()); st != nil && st.limitVals[0] != "" {
			ratelimit.DeleteHeaders(resp.Header)
		}
	}
	if !noInject && !s.cfg.DisableInjection {
		injectTheme(resp)
	}
	holdLarge(resp)
	return nil
}

// injectTheme wraps resp.Body so that the tenant's theme link (and
// favicon link) is inserted into the page, streaming (see
// theming.Injector). It leaves resp alone unless every condition holds:
//
//   - the tenant's brand does not say "inject": false;
//   - the request is not HEAD and the status is one with a full body
//     (not 1xx, 204, 206 or 304);
//   - Content-Type is text/html;
//   - Content-Encoding is absent, identity, gzip or br (others, such as
//     deflate or zstd, pass through untouched).
//
// Compressed bodies are decoded, injected and re-encoded with the same
// coding, streaming too (BenchmarkInjectCoding compares this with
// compressing at the edge). A strong ETag becomes weak because the bytes
// changed. An identity page with a length keeps an exact one (see
// peekLength); otherwise Content-Length is dropped (HTTP/1.1 clients get
// chunked encoding), and a page that had a length is still not flushed
// write by write as a stream would be.
func injectTheme(resp *http.Response) {
	req := resp.Request
	if req == nil || req.Method == http.MethodHead {
		return
	}
	switch c := resp.StatusCode; {
	case c < 200, c == http.StatusNoContent, c == http.StatusPartialContent, c == http.StatusNotModified:
		return
	}
	if resp.Body == nil || resp.Body == http.NoBody || !isMediaType(resp.Header.Get("Content-Type"), "text/html") {
		return
	}
	st := stateFrom(req.Context())
	if st == nil || st.tenant == nil || !st.tenant.brand.Inject() {
		return
	}
	codings := resp.Header.Values("Content-Encoding")
	coding := ""
	switch len(codings) {
	case 0:
	case 1:
		coding = strings.ToLower(strings.TrimSpace(codings[0]))
	default:
		return
	}
	snippet := st.tenant.themeOf().theme.Snippet
	length := int64(-1)
	switch coding {
	case "", "identity":
		in := theming.NewInjector(resp.Body, snippet)
		if resp.ContentLength >= 0 {
			length = peekLength(in, resp.ContentLength+int64(len(snippet)))
		}
		resp.Body = in
	case "gzip", "x-gzip":
		resp.Body = newEncodeReader(theming.NewInjector(&gzipDecoder{src: resp.Body}, snippet), coding)
	case "br":
		resp.Body = newEncodeReader(theming.NewInjector(&brotliDecoder{src: resp.Body}, snippet), coding)
	default:
		return
	}
	if resp.ContentLength >= 0 && st.rec != nil {
		st.rec.noFlush = true // a page, not a stream (see recorder)
	}
	resp.ContentLength = length
	if length >= 0 {
		resp.Header["Content-Length"] = []string{strconv.FormatInt(length, 10)}
	} else {
		resp.Header.Del("Content-Length")
	}
	resp.Header.Del("Content-MD5")
	resp.Header.Del("Digest")
	resp.Header.Del("Repr-Digest")
	resp.Header.Del("Content-Digest")
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		resp.Header.Set("ETag", "W/"+et)
	}
}

// peekLength reads the start of an identity page into in until the
// snippet is inserted, at most 32 KiB (the proxy's copy buffer), so the
// page keeps a Content-Length: want (the upstream's length plus the
// snippet's) once inserted, or the bytes read if the page ended first;
// -1 when neither happened. Chunked encoding would cost the client bytes
// and the edge a second write per copied buffer. The insertion point is
// in the page's head, so this waits for little more than the first read
// ReverseProxy would have waited for, and the bytes read wait in in's
// buffer, not in a copy.
func peekLength(in *theming.Injector, want int64) int64 {
	held, ended := in.Peek(peekLimit)
	switch {
	case in.Injected:
		return want
	case ended:
		return int64(held)
	}
	return -1
}

// peekLimit bounds peekLength's read-ahead.
const peekLimit = 32 << 10

// isMediaType reports whether a Content-Type is of media type mt
// (lower case), parameters aside: a prefix check for the usual
// spellings, mime.ParseMediaType for the rest.
func isMediaType(ct, mt string) bool {
	if ct == "" {
		return false
	}
	if n := len(mt); len(ct) >= n && strings.EqualFold(ct[:n], mt) && (len(ct) == n || ct[n] == ';' || ct[n] == ' ') {
		return true
	}
	got, _, err := mime.ParseMediaType(ct)
	return err == nil && got == mt
}

// gzipDecoder decodes a gzip body, creating the gzip.Reader on the first
// Read (its constructor reads the header, which ModifyResponse must not
// wait for). Readers are pooled.
type gzipDecoder struct {
	src io.ReadCloser
	zr  *gzip.Reader
	err error
}

var gzipReaders sync.Pool

func (d *gzipDecoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.zr == nil {
		br := bufio.NewReaderSize(d.src, 4096)
		if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
			if err := zr.Reset(br); err != nil {
				d.err = err
				return 0, err
			}
			d.zr = zr
		} else {
			zr, err := gzip.NewReader(br)
			if err != nil {
				d.err = err
				return 0, err
			}
			d.zr = zr
		}
	}
	n, err := d.zr.Read(p)
	if err != nil {
		d.err = err
	}
	return n, err
}

func (d *gzipDecoder) Close() error {
	if d.zr != nil && d.err == io.EOF {
		gzipReaders.Put(d.zr)
	}
	d.zr = nil
	return d.src.Close()
}

// brotliDecoder decodes a br body.
type brotliDecoder struct {
	src io.ReadCloser
	br  *brotli.Reader
}

func (d *brotliDecoder) Read(p []byte) (int, error) {
	if d.br == nil {
		d.br = brotli.NewReader(d.src)
	}
	return d.br.Read(p)
}

func (d *brotliDecoder) Close() error { return d.src.Close() }

// compressor is a gzip.Writer or brotli.Writer.
type compressor interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

var (
	gzipWriters   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}
	brotliWriters = sync.Pool{New: func() any { return brotli.NewWriterLevel(nil, 4) }}
)

// encodeReader compresses what it reads from src. After a read from src
// that came back short (the upstream had nothing more at that moment),
// it flushes the compressor, so a page streamed in parts reaches the
// client in parts instead of waiting for the compressor's window.
type encodeReader struct {
	src   io.ReadCloser
	pool  *sync.Pool
	w     compressor
	out   bytes.Buffer
	chunk []byte
	done  bool
	err   error
}

func newEncodeReader(src io.ReadCloser, coding string) *encodeReader {
	e := &encodeReader{src: src, chunk: make([]byte, 32<<10)}
	if coding == "br" {
		e.pool = &brotliWriters
	} else {
		e.pool = &gzipWriters
	}
	e.w = e.pool.Get().(compressor)
	e.w.Reset(&e.out)
	return e
}

func (e *encodeReader) Read(p []byte) (int, error) {
	for e.out.Len() == 0 {
		if e.done {
			return 0, e.err
		}
		n, err := e.src.Read(e.chunk)
		if n > 0 {
			e.w.Write(e.chunk[:n])
		}
		switch {
		case err == io.EOF:
			e.w.Close()
			e.done, e.err = true, io.EOF
			e.release()
		case err != nil:
			e.done, e.err = true, err
		case n < len(e.chunk):
			e.w.Flush()
		}
	}
	return e.out.Read(p)
}

func (e *encodeReader) release() {
	if e.w != nil {
		e.w.Reset(io.Discard)
		e.pool.Put(e.w)
		e.w = nil
	}
}

func (e *encodeReader) Close() error {
	e.w = nil // not returned to the pool unless it finished cleanly
	return e.src.Close()
}
