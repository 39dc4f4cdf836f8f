package theming

import (
	"bytes"
	"io"
	"sync"
)

// MaxInjectScan bounds how much of a page the injector scans looking for
// its insertion point. A page whose head does not end within it is
// passed on unchanged from there (and the snippet is not added), so a
// pathological page costs bounded memory and time.
const MaxInjectScan = 256 << 10

// headElements may appear in <head>; the first start tag of any other
// element implies the body, as in the HTML parser's "in head" mode.
var headElements = map[string]bool{
	"html": true, "head": true, "title": true, "meta": true, "link": true, "style": true,
	"script": true, "base": true, "noscript": true, "template": true,
}

// Injector is a streaming io.ReadCloser that copies an HTML document
// from its source and inserts a snippet once: immediately before
// </head>, or, when the document has no head end, right after <body>
// (or before the first element that can only be in the body). Tag names
// match in any case, and a tag split across reads is found all the same.
//
// Up to the insertion point (at most MaxInjectScan bytes) the injector
// tokenizes the page exactly as golang.org/x/net/html's Tokenizer does
// (comments, doctypes, raw text such as <title>, <style> and the escape
// rules of <script>), with a small state machine and a pooled buffer
// that holds back only a tag being read; after it, bytes pass through
// unchanged in the caller's buffer, so memory stays flat however long
// the page. Every byte of the source appears in the output, in order;
// only the snippet is added. It is not safe for concurrent use.
type Injector struct {
	src     io.ReadCloser
	snippet []byte
	bp      *[]byte // pooled buffer; nil when none
	buf     []byte  // bytes read from src, from the first not yet returned
	ready   int     // buf[:ready] may be returned; buf[ready:] is held (a tag being read)
	scanned int     // bytes read from src while scanning
	insAt   int     // once done: snippet goes before buf[insAt:] (or -1)
	done    bool    // insertion made or abandoned; now pass-through
	srcErr  error   // the source's error, reported after buf drains
	sc      scanner
	// Injected reports whether the snippet was inserted (valid once the
	// insertion point has passed or the source has ended).
	Injected bool
}

// injectBufSize is the pooled buffer's size. It is as large as the
// proxy's copy buffer so that the first read takes all the source has
// ready (an HTTP client's buffered response start, say): a smaller one
// would split the page's first write to the client in two.
const injectBufSize = 32 << 10

var injectBufs = sync.Pool{New: func() any { b := make([]byte, 0, injectBufSize); return &b }}

// NewInjector returns an Injector reading from src. snippet is not
// copied and must not change.
func NewInjector(src io.ReadCloser, snippet []byte) *Injector {
	return &Injector{src: src, snippet: snippet, insAt: -1}
}

// Read implements io.Reader.
func (in *Injector) Read(p []byte) (int, error) {
	for {
		if in.done {
			return in.readDone(p)
		}
		if in.ready > 0 {
			n := copy(p, in.buf[:in.ready])
			in.consume(n)
			return n, nil
		}
		in.fill()
	}
}

// Peek reads ahead from the source, returning nothing yet, until the
// insertion point is found, the source ends or fails, or at least limit
// bytes are held. It reports how many bytes of the source are held and
// whether the source ended (io.EOF) within them; afterwards Injected is
// final if the insertion point was found or the source ended. Read then
// returns the held bytes (with the snippet) before reading on, without
// another copy: a caller that wants the output length before the body,
// as for a Content-Length, pays nothing extra for it.
func (in *Injector) Peek(limit int) (held int, ended bool) {
	for !in.done && len(in.buf) < limit {
		in.fill()
	}
	return len(in.buf), in.srcErr == io.EOF
}

// consume drops the first n bytes of buf, which have been returned.
func (in *Injector) consume(n int) {
	in.buf = in.buf[n:]
	in.ready -= n
	in.sc.shift(n)
	if in.insAt > 0 {
		in.insAt -= n
	}
}

func (in *Injector) readDone(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if in.insAt == 0 {
			// The snippet goes next.
			k := copy(p[n:], in.snippet[len(in.snippet)-in.sc.snipLeft:])
			in.sc.snipLeft -= k
			n += k
			if in.sc.snipLeft == 0 {
				in.insAt = -1
			}
			continue
		}
		if len(in.buf) == 0 {
			break
		}
		end := len(in.buf)
		if in.insAt > 0 {
			end = in.insAt
		}
		k := copy(p[n:], in.buf[:end])
		in.consume(k)
		n += k
	}
	if len(in.buf) == 0 && in.insAt < 0 && in.bp != nil {
		in.release()
	}
	if n > 0 {
		return n, nil
	}
	if in.srcErr != nil {
		return 0, in.srcErr
	}
	return in.src.Read(p)
}

func (in *Injector) release() {
	if cap(*in.bp) <= 64<<10 {
		*in.bp = (*in.bp)[:0]
		injectBufs.Put(in.bp)
	}
	in.bp, in.buf = nil, nil
}

// fill reads from the source into the buffer and scans what it read.
func (in *Injector) fill() {
	if in.bp == nil {
		in.bp = injectBufs.Get().(*[]byte)
		in.buf = (*in.bp)[:0]
	}
	// Only a held tag is left: move it to the front, growing the buffer
	// when it fills it.
	if b := *in.bp; len(in.buf) == cap(b) {
		nb := make([]byte, len(in.buf), 2*cap(b))
		copy(nb, in.buf)
		*in.bp = nb
		in.buf = nb
	} else if cap(in.buf) < cap(b) {
		in.buf = b[:copy(b[:cap(b)], in.buf)]
	}
	free := in.buf[len(in.buf):cap(in.buf)]
	if rest := MaxInjectScan - in.scanned; len(free) > rest {
		free = free[:rest]
	}
	var n int
	var err error
	for range 100 {
		if n, err = in.src.Read(free); n != 0 || err != nil {
			break
		}
	}
	if n == 0 && err == nil {
		err = io.ErrNoProgress
	}
	start := len(in.buf)
	in.buf = in.buf[:start+n]
	in.scanned += n
	if at, ok := in.sc.scan(in.buf, start, in.scanned-len(in.buf)); ok {
		in.Injected = true
		in.sc.snipLeft = len(in.snippet)
		in.insAt = at
		in.done = true
		if len(in.snippet) == 0 {
			in.insAt = -1
		}
		return
	}
	in.ready = in.sc.readyEnd(len(in.buf))
	if err != nil {
		in.srcErr = err
		in.done = true
		return
	}
	if in.scanned >= MaxInjectScan {
		in.done = true
	}
}

// Close closes the source.
func (in *Injector) Close() error {
	// The buffer is not returned to the pool unless the page was read
	// to its end.
	in.bp, in.buf = nil, nil
	return in.src.Close()
}

// The states of scanner, named after the Tokenizer code they follow.
const (
	sData           = iota
	sLT             // "<"
	sEndOpen        // "</"
	sBogus          // until ">"
	sMarkup0        // "<!"
	sMarkup1        // "<!-"
	sComment        // "<!--"
	sCommentBang    // "--!" in a comment
	sTagName        // readTagName
	sTagBeforeAttr  // skipWhiteSpace, then '>' or an attribute
	sAttrKey        // readTagAttrKey
	sBeforeVal      // readTagAttrVal before '='
	sValStart       // after '='
	sQuoted         // quoted value
	sUnquoted       // unquoted value
	sRaw            // readRawOrRCDATA
	sRawLT          // "<" in raw text
	sRawEnd         // readRawEndTag
	sScript         // readScript: scriptData
	sScriptLT       // scriptDataLessThanSign
	sScriptEscStart // scriptDataEscapeStart
	sScriptEscStartDash
	sScriptEsc
	sScriptEscDash
	sScriptEscDashDash
	sScriptEscLT
	sScriptDblEscStart
	sScriptDblEsc
	sScriptDblEscDash
	sScriptDblEscDashDash
	sScriptDblEscLT
)

// scanner follows golang.org/x/net/html's Tokenizer byte by byte, from
// a fresh tokenizer's state, far enough to find the insertion point.
// Positions are indexes into the Injector's buffer.
type scanner struct {
	state    int
	holding  bool // hold is valid
	tagStart int  // index of the current tag's "<" (valid while holding)
	isEnd    bool // the tag being read is an end tag
	noTrig   bool // the end tag being read closes raw text: not held
	quote    byte
	keyFirst bool
	dashes   int
	begin    bool
	rawTag   string // "title", "style", "noscript" or "script" while in raw text
	rawIdx   int
	rawOK    int // state after readRawEndTag matched; -1 means an end tag follows
	rawFail  int // state after it failed
	snipLeft int
}

func (s *scanner) shift(n int) {
	if s.holding {
		s.tagStart -= n
	}
}

func (s *scanner) readyEnd(n int) int {
	if s.holding {
		return s.tagStart
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// scan scans buf[from:]; base is the source offset of buf[0]. It
// reports the index in buf where the snippet goes, if the insertion
// point was reached.
func (s *scanner) scan(buf []byte, from, base int) (int, bool) {
	i := from
	for i < len(buf) {
		c := buf[i]
		switch s.state {
		case sData:
			k := bytes.IndexByte(buf[i:], '<')
			if k < 0 {
				return 0, false
			}
			i += k
			s.holding, s.tagStart = true, i
			s.state = sLT
		case sLT:
			switch {
			case isLetter(c):
				s.isEnd, s.noTrig = false, false
				s.state = sTagName
			case c == '/':
				s.state = sEndOpen
			case c == '!':
				s.holding = false
				s.state = sMarkup0
			case c == '?':
				s.holding = false
				s.state = sBogus
			default:
				s.holding = false
				s.state = sData
				continue // reconsume
			}
		case sEndOpen:
			switch {
			case c == '>':
				s.holding = false
				s.state = sData
			case isLetter(c):
				s.isEnd, s.noTrig = true, false
				s.state = sTagName
			default:
				s.holding = false
				s.state = sBogus
			}
		case sBogus:
			k := bytes.IndexByte(buf[i:], '>')
			if k < 0 {
				return 0, false
			}
			i += k
			s.state = sData
		case sMarkup0:
			switch c {
			case '-':
				s.state = sMarkup1
			case '>':
				s.state = sData
			default:
				s.state = sBogus
			}
		case sMarkup1:
			switch c {
			case '-':
				s.dashes, s.begin = 0, true
				s.state = sComment
			case '>':
				s.state = sData
			default:
				s.state = sBogus
			}
		case sComment:
			switch c {
			case '-':
				s.dashes++
				i++
				continue
			case '>':
				if s.dashes >= 2 || s.begin {
					s.state = sData
					i++
					continue
				}
			case '!':
				if s.dashes >= 2 {
					s.state = sCommentBang
					i++
					continue
				}
			}
			s.dashes, s.begin = 0, false
		case sCommentBang:
			switch c {
			case '>':
				s.state = sData
			case '-':
				s.dashes, s.begin = 1, false
				s.state = sComment
			default:
				s.dashes, s.begin = 0, false
				s.state = sComment
			}
		case sTagName:
			switch {
			case isSpace(c):
				s.state = sTagBeforeAttr
			case c == '/' || c == '>':
				s.state = sTagBeforeAttr
				continue
			}
		case sTagBeforeAttr:
			switch {
			case isSpace(c):
			case c == '>':
				if at, ok := s.tagEnd(buf, i, base); ok {
					return at, true
				}
			default:
				s.keyFirst = true
				s.state = sAttrKey
				continue
			}
		case sAttrKey:
			switch {
			case c == '=' && s.keyFirst:
			case c == '=' || isSpace(c) || c == '/' || c == '>':
				s.state = sBeforeVal
				continue
			}
			s.keyFirst = false
		case sBeforeVal:
			switch {
			case isSpace(c):
			case c == '/':
				s.state = sTagBeforeAttr
			case c == '=':
				s.state = sValStart
			default:
				s.state = sTagBeforeAttr
				continue
			}
		case sValStart:
			switch {
			case isSpace(c):
			case c == '>':
				s.state = sTagBeforeAttr
				continue
			case c == '\'' || c == '"':
				s.quote = c
				s.state = sQuoted
			default:
				s.state = sUnquoted
			}
		case sQuoted:
			k := bytes.IndexByte(buf[i:], s.quote)
			if k < 0 {
				return 0, false
			}
			i += k
			s.state = sTagBeforeAttr
		case sUnquoted:
			switch {
			case isSpace(c):
				s.state = sTagBeforeAttr
			case c == '>':
				s.state = sTagBeforeAttr
				continue
			}
		case sRaw:
			k := bytes.IndexByte(buf[i:], '<')
			if k < 0 {
				return 0, false
			}
			i += k
			s.state = sRawLT
		case sRawLT:
			if c == '/' {
				s.rawIdx, s.rawOK, s.rawFail = 0, -1, sRaw
				s.state = sRawEnd
			} else {
				s.state = sRaw
				continue
			}
		case sRawEnd:
			if s.rawIdx < len(s.rawTag) {
				if t := s.rawTag[s.rawIdx]; c != t && c != t-('a'-'A') {
					s.state = s.rawFail
					continue
				}
				s.rawIdx++
				break
			}
			if !isSpace(c) && c != '/' && c != '>' {
				s.state = s.rawFail
				continue
			}
			if s.rawOK >= 0 {
				// Double-escaped "</script" and its terminator: consumed.
				s.state = s.rawOK
				break
			}
			// The raw text ends; "</name" starts an end tag whose name
			// is being read.
			s.rawTag = ""
			s.isEnd, s.noTrig = true, true
			s.state = sTagName
			continue
		case sScript:
			k := bytes.IndexByte(buf[i:], '<')
			if k < 0 {
				return 0, false
			}
			i += k
			s.state = sScriptLT
		case sScriptLT:
			switch c {
			case '/':
				s.rawIdx, s.rawOK, s.rawFail = 0, -1, sScript
				s.state = sRawEnd
			case '!':
				s.state = sScriptEscStart
			default:
				s.state = sScript
				continue
			}
		case sScriptEscStart:
			if c != '-' {
				s.state = sScript
				continue
			}
			s.state = sScriptEscStartDash
		case sScriptEscStartDash:
			if c != '-' {
				s.state = sScript
				continue
			}
			s.state = sScriptEscDashDash
		case sScriptEsc, sScriptEscDash, sScriptEscDashDash:
			switch {
			case c == '-' && s.state == sScriptEsc:
				s.state = sScriptEscDash
			case c == '-':
				s.state = sScriptEscDashDash
			case c == '<':
				s.state = sScriptEscLT
			case c == '>' && s.state == sScriptEscDashDash:
				s.state = sScript
			default:
				s.state = sScriptEsc
			}
		case sScriptEscLT:
			switch {
			case c == '/':
				s.rawIdx, s.rawOK, s.rawFail = 0, -1, sScriptEsc
				s.state = sRawEnd
			case isLetter(c):
				s.rawIdx = 0
				s.state = sScriptDblEscStart
				continue
			default:
				s.state = sScript
				continue
			}
		case sScriptDblEscStart:
			if s.rawIdx < len("script") {
				if c != "script"[s.rawIdx] && c != "SCRIPT"[s.rawIdx] {
					s.state = sScriptEsc
					continue
				}
				s.rawIdx++
				break
			}
			if isSpace(c) || c == '/' || c == '>' {
				s.state = sScriptDblEsc
				break
			}
			s.state = sScriptEsc
			continue
		case sScriptDblEsc, sScriptDblEscDash, sScriptDblEscDashDash:
			switch {
			case c == '-' && s.state == sScriptDblEsc:
				s.state = sScriptDblEscDash
			case c == '-':
				s.state = sScriptDblEscDashDash
			case c == '<':
				s.state = sScriptDblEscLT
			case c == '>' && s.state == sScriptDblEscDashDash:
				s.state = sScript
			default:
				s.state = sScriptDblEsc
			}
		case sScriptDblEscLT:
			if c == '/' {
				s.rawIdx, s.rawOK, s.rawFail = 0, sScriptEsc, sScriptDblEsc
				s.state = sRawEnd
			} else {
				s.state = sScriptDblEsc
				continue
			}
		}
		i++
	}
	return 0, false
}

// tagEnd handles the ">" at buf[i] that ends a tag, reporting where the
// snippet goes if the tag is the insertion point.
func (s *scanner) tagEnd(buf []byte, i, base int) (int, bool) {
	s.state = sData
	if s.noTrig {
		s.noTrig = false
		return 0, false
	}
	start := s.tagStart
	s.holding = false
	// The tokenizer's buffer limit: a single token of MaxInjectScan
	// bytes fails.
	if base+start == 0 && i+1 >= MaxInjectScan {
		return 0, false
	}
	name := tagName(buf[start : i+1])
	if s.isEnd {
		switch name {
		case "head", "html", "body":
			return start, true
		}
		return 0, false
	}
	if name == "body" {
		return i + 1, true
	}
	if !headElements[name] {
		return start, true
	}
	switch name {
	case "title", "style", "noscript":
		s.rawTag, s.state = name, sRaw
	case "script":
		s.rawTag, s.state = name, sScript
	}
	return 0, false
}

// tagName returns the lower-cased name of the tag token raw ("<HEAD x>"
// gives "head"), or "other" when it is longer than any name of interest.
func tagName(raw []byte) string {
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
