package theming

// The injector as it was with golang.org/x/net/html, kept as the
// reference for FuzzInjectorMatchesTokenizer.

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// MaxInjectScan bounds how much of a page the injector tokenizes looking
// for its insertion point. A page whose head does not end within it is
// passed on unchanged from there (and the snippet is not added), so a
// pathological page costs bounded memory and time.

// refHeadElements may appear in <head>; the first start tag of any other
// element implies the body, as in the HTML parser's "in head" mode.
var refHeadElements = map[string]bool{
	"html": true, "head": true, "title": true, "meta": true, "link": true, "style": true,
	"script": true, "base": true, "noscript": true, "template": true,
}

// refInjector is a streaming io.ReadCloser that copies an HTML document
// from its source and inserts a snippet once: immediately before
// </head>, or, when the document has no head end, right after <body>
// (or before the first element that can only be in the body). Tag names
// match in any case, and a tag split across reads is found all the same.
//
// The injector tokenizes only until the insertion point (at most
// MaxInjectScan bytes); after it, bytes pass through unchanged in the
// caller's buffer, so memory stays flat however long the page. Every
// byte of the source appears in the output, in order; only the snippet
// is added. It is not safe for concurrent use.
type refInjector struct {
	src     io.ReadCloser
	z       *html.Tokenizer
	snippet []byte
	out     bytes.Buffer // bytes produced but not yet read
	ahead   []byte       // then these: what the tokenizer read past the insertion point
	scanned int          // bytes given to the tokenizer
	done    bool         // insertion made or abandoned; now pass-through
	srcErr  error        // the source's error, reported after out drains
	// Injected reports whether the snippet was inserted (valid once the
	// insertion point has passed or the source has ended).
	Injected bool
}

// newRefInjector returns an refInjector reading from src. snippet is not
// copied and must not change.
func newRefInjector(src io.ReadCloser, snippet []byte) *refInjector {
	in := &refInjector{src: src, snippet: snippet}
	in.z = html.NewTokenizer(&refScanLimiter{in: in})
	in.z.SetMaxBuf(MaxInjectScan)
	return in
}

// refScanLimiter feeds the tokenizer from src and remembers the source's
// error so that it, not the tokenizer's, is returned.
type refScanLimiter struct{ in *refInjector }

func (l *refScanLimiter) Read(p []byte) (int, error) {
	in := l.in
	if in.scanned >= MaxInjectScan {
		return 0, errRefScanLimit
	}
	if rest := MaxInjectScan - in.scanned; len(p) > rest {
		p = p[:rest]
	}
	n, err := in.src.Read(p)
	in.scanned += n
	if err != nil {
		in.srcErr = err
	}
	return n, err
}

var errRefScanLimit = errors.New("theming: inject scan limit reached")

// Read implements io.Reader.
func (in *refInjector) Read(p []byte) (int, error) {
	for in.out.Len() == 0 {
		if in.done {
			if len(in.ahead) > 0 {
				n := copy(p, in.ahead)
				in.ahead = in.ahead[n:]
				return n, nil
			}
			if in.srcErr != nil {
				return 0, in.srcErr
			}
			return in.src.Read(p)
		}
		if in.out.Cap() == 0 {
			in.out.Grow(512)
		}
		in.step()
	}
	n, _ := in.out.Read(p)
	if in.out.Len() == 0 && len(in.ahead) > 0 && n < len(p) {
		// Send what the tokenizer read ahead in the same write.
		k := copy(p[n:], in.ahead)
		in.ahead = in.ahead[k:]
		n += k
	}
	return n, nil
}

// step tokenizes one token into out, inserting the snippet when the
// insertion point is reached.
func (in *refInjector) step() {
	tt := in.z.Next()
	switch tt {
	case html.ErrorToken:
		// The source ended, failed, or the scan limit or the
		// tokenizer's buffer limit was reached: flush what the tokenizer
		// holds and pass the rest through.
		in.out.Write(in.z.Raw())
		in.ahead = in.z.Buffered()
		if err := in.z.Err(); in.srcErr == nil && !errors.Is(err, errRefScanLimit) && !errors.Is(err, html.ErrBufferExceeded) {
			in.srcErr = err
		}
		in.finish()
		return
	case html.EndTagToken:
		switch refTagName(in.z.Raw()) {
		case "head", "html", "body":
			in.insert()
			in.out.Write(in.z.Raw())
			in.passThrough()
			return
		}
	case html.StartTagToken, html.SelfClosingTagToken:
		name := refTagName(in.z.Raw())
		if name == "body" {
			in.out.Write(in.z.Raw())
			in.insert()
			in.passThrough()
			return
		}
		if !refHeadElements[name] {
			in.insert()
			in.out.Write(in.z.Raw())
			in.passThrough()
			return
		}
	}
	in.out.Write(in.z.Raw())
}

// tagName returns the lower-cased name of the tag token raw ("<HEAD x>"
// gives "head"), or "" when it is longer than any name of interest.
// Tokenizer.TagName is not used because it lower-cases the tokenizer's
// buffer in place, which would change the bytes passed on.
func refTagName(raw []byte) string {
	i := 1
	if i < len(raw) && raw[i] == '/' {
		i++
	}
	var b [10]byte
	n := 0
	for ; i < len(raw); i++ {
		c := raw[i]
		if c == ' ' || c == '/' || c == '>' || c == '\t' || c == '\n' || c == '\f' || c == '\r' {
			break
		}
		if n == len(b) {
			return "other"
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[n] = c
		n++
	}
	return string(b[:n])
}

func (in *refInjector) insert() {
	in.out.Write(in.snippet)
	in.Injected = true
}

// passThrough ends tokenizing after the insertion: what the tokenizer
// has read ahead goes out first, then the source directly.
func (in *refInjector) passThrough() {
	// The tokenizer is dropped, so its buffer is ours to read from.
	in.ahead = in.z.Buffered()
	in.finish()
}

func (in *refInjector) finish() {
	in.done = true
	in.z = nil
}

// Close closes the source.
func (in *refInjector) Close() error { return in.src.Close() }

// FuzzInjectorMatchesTokenizer: the injector puts the snippet where the
// reference, driven by golang.org/x/net/html's Tokenizer, does, for any
// input and any split into reads.
func FuzzInjectorMatchesTokenizer(f *testing.F) {
	for _, s := range []string{
		"<html><head></head><body></body></html>", "<HEAD></HEAD>", "<body>", "<!-- </head> -->", "<script></head></script>", "x",
		"<head><script><!--<script>x</script>--></head></script></head>",
		"<head><title>a</titlex></title ></head>", "<head><style></STYLE/></head>", "<head><noscript></head></noscript><p>",
		"<!doctype html><!x></head>", "<?x></head>", "</ x></head>", "</></head>", "<a b='>'></head>", "<meta =x a=\">\" /></head>",
		"<!--->--!></head>", "<!---!-></head>", "<<head></head>",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, page []byte, chunk uint8) {
		n := int(chunk%16) + 1
		in := NewInjector(io.NopCloser(&chunkReader{r: bytes.NewReader(page), n: n}), []byte(snip))
		got, err := io.ReadAll(in)
		ref := newRefInjector(io.NopCloser(&chunkReader{r: bytes.NewReader(page), n: n}), []byte(snip))
		want, werr := io.ReadAll(ref)
		if err != werr || in.Injected != ref.Injected || !bytes.Equal(got, want) {
			t.Fatalf("in: %q\ngot  %q %v %v\nwant %q %v %v", page, got, in.Injected, err, want, ref.Injected, werr)
		}
	})
}

// TestInjectorMatchesTokenizerAtLimit compares the two at MaxInjectScan.
func TestInjectorMatchesTokenizerAtLimit(t *testing.T) {
	var pages []string
	for d := -3; d <= 3; d++ {
		pad := MaxInjectScan + d
		pages = append(pages,
			"<body a='"+strings.Repeat("x", pad-len("<body a=''>"))+"'>",
			"<head><b a='"+strings.Repeat("x", pad-len("<head><b a=''>"))+"'>",
			strings.Repeat("y", pad-len("</head>"))+"</head>",
			"<head><script>"+strings.Repeat("z", pad-len("<head><script></script></head>"))+"</script></head>",
			"<!--"+strings.Repeat("-", pad-len("<!---->"))+"--></head>",
		)
	}
	for i, page := range pages {
		for _, n := range []int{7, 4096, 1 << 20} {
			if n == 7 && i%5 != 2 {
				continue
			}
			in := NewInjector(io.NopCloser(&chunkReader{r: strings.NewReader(page), n: n}), []byte(snip))
			got, err := io.ReadAll(in)
			ref := newRefInjector(io.NopCloser(&chunkReader{r: strings.NewReader(page), n: n}), []byte(snip))
			want, werr := io.ReadAll(ref)
			if err != werr || in.Injected != ref.Injected || !bytes.Equal(got, want) {
				t.Errorf("page %d, reads of %d: injected %v, want %v; err %v, want %v; equal %v", i, n, in.Injected, ref.Injected, err, werr, bytes.Equal(got, want))
			}
		}
	}
}
