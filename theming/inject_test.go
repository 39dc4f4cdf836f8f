package theming

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const snip = `<link rel="stylesheet" href="/_edge/theme.css?v=1">`

func TestInjector(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"before head end", `<!doctype html><html><head><title>x</title></head><body>hi</body></html>`,
			`<!doctype html><html><head><title>x</title>` + snip + `</head><body>hi</body></html>`},
		{"uppercase tags", `<HTML><HEAD><TITLE>x</TITLE></HEAD><BODY>hi</BODY></HTML>`,
			`<HTML><HEAD><TITLE>x</TITLE>` + snip + `</HEAD><BODY>hi</BODY></HTML>`},
		{"mixed case head end with space", `<html><head></Head ><body></body>`, `<html><head>` + snip + `</Head ><body></body>`},
		{"no head: start of body", `<!doctype html><html><body class="x"><p>hi</p></body></html>`,
			`<!doctype html><html><body class="x">` + snip + `<p>hi</p></body></html>`},
		{"no head, no body: before first body element", `<!doctype html><title>t</title><p>hi`,
			`<!doctype html><title>t</title>` + snip + `<p>hi`},
		{"head end in comment and script ignored", `<head><!-- </head> --><script>var s = "</head>";</script></head><body>`,
			`<head><!-- </head> --><script>var s = "</head>";</script>` + snip + `</head><body>`},
		{"head end in title text ignored", `<head><title></head></title></head>`, `<head><title></head></title>` + snip + `</head>`},
		{"not html at all", `just text, no tags`, `just text, no tags`},
		{"empty", ``, ``},
		{"only once", `<head></head><head></head>`, `<head>` + snip + `</head><head></head>`},
		{"utf-8 and entities kept", `<head><title>Ünïcode &amp; co</title></head>`, `<head><title>Ünïcode &amp; co</title>` + snip + `</head>`},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, tt := range tests {
		for rn, wrap := range readers {
			t.Run(tt.name+"/"+rn, func(t *testing.T) {
				in := NewInjector(io.NopCloser(wrap(strings.NewReader(tt.in))), []byte(snip))
				got, err := io.ReadAll(in)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Errorf("inject(%q) =\n%s\nwant\n%s", tt.in, got, tt.want)
				}
			})
			// Peeking first changes nothing in the output; a peek
			// large enough decides Injected and sees the end.
			for _, limit := range []int{1, 16, 1 << 20} {
				t.Run(fmt.Sprintf("%s/%s/peek %d", tt.name, rn, limit), func(t *testing.T) {
					in := NewInjector(io.NopCloser(wrap(strings.NewReader(tt.in))), []byte(snip))
					held, ended := in.Peek(limit)
					if held > len(tt.in) {
						t.Errorf("Peek held %d bytes of a %d-byte page", held, len(tt.in))
					}
					if limit == 1<<20 {
						injected := tt.want != tt.in
						if in.Injected != injected {
							t.Errorf("after Peek, Injected = %v, want %v", in.Injected, injected)
						}
						if !injected && (!ended || held != len(tt.in)) {
							t.Errorf("Peek of a page without insertion point = %d, %v; want %d, true", held, ended, len(tt.in))
						}
					}
					got, err := io.ReadAll(in)
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != tt.want {
						t.Errorf("inject(%q) after Peek(%d) =\n%s\nwant\n%s", tt.in, limit, got, tt.want)
					}
				})
			}
		}
	}
}

// TestInjectorSplitHeadEnd splits </head> at every position between two
// reads.
func TestInjectorSplitHeadEnd(t *testing.T) {
	page := `<html><head><meta charset="utf-8"></head><body>x</body></html>`
	want := strings.Replace(page, "</head>", snip+"</head>", 1)
	at := strings.Index(page, "</head>")
	for cut := at; cut <= at+len("</head>"); cut++ {
		r := io.MultiReader(strings.NewReader(page[:cut]), strings.NewReader(page[cut:]))
		got, err := io.ReadAll(NewInjector(io.NopCloser(r), []byte(snip)))
		if err != nil || string(got) != want {
			t.Errorf("cut at %d: %s, %v", cut, got, err)
		}
	}
}

// TestInjectorGivesUp: past MaxInjectScan without an insertion point,
// the rest passes through unchanged.
func TestInjectorGivesUp(t *testing.T) {
	for _, page := range []string{
		"<head>" + strings.Repeat("<meta name=a>", MaxInjectScan/13+10) + "</head>",  // many head tokens
		"<head><script>" + strings.Repeat("x", 2*MaxInjectScan) + "</script></head>", // one huge token
	} {
		in := NewInjector(io.NopCloser(iotest.HalfReader(strings.NewReader(page))), []byte(snip))
		got, err := io.ReadAll(in)
		if err != nil || string(got) != page || in.Injected {
			t.Errorf("len %d: got len %d, injected %v, err %v", len(page), len(got), in.Injected, err)
		}
	}
}

func TestInjectorSourceError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("<head>"), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, err := io.ReadAll(NewInjector(io.NopCloser(r), []byte(snip)))
	if err != io.ErrUnexpectedEOF || string(got) != "<head>" {
		t.Errorf("got %q, %v; want the source's error", got, err)
	}
}

func BenchmarkInjector100KiB(b *testing.B) {
	page := []byte("<!doctype html><html><head><title>t</title><meta charset=utf-8></head><body>" +
		strings.Repeat("<p>Lorem ipsum dolor sit amet.</p>\n", 100<<10/36) + "</body></html>")
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		in := NewInjector(io.NopCloser(bytes.NewReader(page)), []byte(snip))
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{in}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzInjector: for any input and any split into reads, the output is
// the input with the snippet inserted at most once, and nothing else
// changed.
func FuzzInjector(f *testing.F) {
	for _, s := range []string{"<html><head></head><body></body></html>", "<HEAD></HEAD>", "<body>", "<!-- </head> -->", "<script></head></script>", "x"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, page []byte, chunk uint8) {
		n := int(chunk%16) + 1
		var r io.Reader = bytes.NewReader(page)
		r = &chunkReader{r: r, n: n}
		in := NewInjector(io.NopCloser(r), []byte(snip))
		got, err := io.ReadAll(in)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(got, []byte(snip)); i >= 0 {
			if !in.Injected {
				t.Fatal("snippet present but Injected false")
			}
			got = append(got[:i:i], got[i+len(snip):]...)
		} else if in.Injected {
			t.Fatal("Injected but no snippet")
		}
		if !bytes.Equal(got, page) {
			t.Fatalf("output without the snippet differs from the input\n in: %q\nout: %q", page, got)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }
