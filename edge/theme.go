package edge

import (
	"bytes"
	"container/list"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// themePath and assetsPrefix are the theme endpoints the edge answers
// for every tenant.
const (
	themePath    = theming.ThemePath // "/_edge/theme.css"
	assetsPrefix = "/_edge/assets/"
)

// DefaultAssetCacheBytes is the default size of the in-memory asset cache.
const DefaultAssetCacheBytes = 64 << 20

// themeState is a tenant entry's theme, built on first use and then kept
// for the entry's life (a brand change builds a new entry). Building
// lazily keeps snapshot builds of a million tenants fast and stores
// themes only for tenants that get traffic; the first request of a
// tenant pays about 10µs.
type themeState struct {
	once   sync.Once
	theme  *theming.Theme
	assets []string // asset paths the brand refers to: the only ones served on this tenant's hosts
}

// themeOf returns e's theme, building it on first use. Safe for
// concurrent use.
func (e *tenantEntry) themeOf() *themeState {
	e.themeSt.once.Do(func() {
		e.themeSt.theme = theming.NewTheme(e.brand)
		for _, f := range []string{"logo.primary", "logo.favicon", "logo.background"} {
			if v, ok := theming.AssetID(e.brand.Value(f)); ok {
				e.themeSt.assets = append(e.themeSt.assets, v)
			}
		}
	})
	return &e.themeSt
}

// themeEndpoints answers the tenant's theme stylesheet and brand assets.
// It sits after lifecycle and before rate limits and SSO: both are
// public, cacheable and needed by the login page itself.
func (s *Server) themeEndpoints(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == themePath:
		case strings.HasPrefix(p, assetsPrefix):
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeError(w, r, errMethod)
			return
		}
		e := stateFrom(r.Context()).tenant
		if p == themePath {
			s.serveTheme(w, r, e.themeOf().theme)
			return
		}
		s.serveAsset(w, r, e)
	})
}

// serveTheme writes the theme CSS with a strong ETag. A request carrying
// the current version (?v=, as in the injected link) may be cached for
// a year; any other for five minutes, revalidated by ETag.
func (s *Server) serveTheme(w http.ResponseWriter, r *http.Request, th *theming.Theme) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", th.ETag)
	if r.URL.Query().Get("v") == th.Version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if etagMatches(r.Header.Get("If-None-Match"), th.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", itoa(len(th.CSS)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(th.CSS)
}

// etagMatches is the weak comparison If-None-Match uses (RFC 9110
// 13.1.2): any listed tag, W/ or not, equal to etag, or "*".
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

var (
	errAssetNotFound    = &whitelabel.Error{Code: whitelabel.CodeNotFound, Message: "no such asset"}
	errAssetUnavailable = &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the asset store is unavailable"}
)

// serveAsset writes one of the tenant's brand assets. Only the assets the
// tenant's brand refers to are served on its hosts (checked against the
// snapshot, no store access); the bytes come from the LRU cache or, on a
// miss, from Config.Assets. Assets are immutable (the name is the
// SHA-256), so they are cached for a year.
//
// This is the one read of the store on a request path, and it is not on
// tenant resolution: a store outage fails only uncached assets (503),
// never pages.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, e *tenantEntry) {
	ts := e.themeOf()
	var id string
	for _, a := range ts.assets {
		if a == r.URL.Path {
			id = a
			break
		}
	}
	if id == "" || s.cfg.Assets == nil {
		s.writeError(w, r, errAssetNotFound)
		return
	}
	name := id[len(assetsPrefix):]
	hash := name[:64]
	a, ok := s.assetCache.get(hash)
	if !ok {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
		got, err := s.cfg.Assets.Asset(ctx, hash)
		cancel()
		switch {
		case whitelabel.ErrorCodeOf(err) == whitelabel.CodeNotFound:
			s.writeError(w, r, errAssetNotFound)
			return
		case err != nil:
			if st := stateFrom(r.Context()); st != nil {
				st.err = err
			}
			s.writeError(w, r, errAssetUnavailable)
			return
		}
		a = got
		s.assetCache.add(hash, a)
	}
	if theming.AssetExt(a.ContentType) != name[65:] {
		s.writeError(w, r, errAssetNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", `"`+hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.Data))
}

// assetCache is an LRU of assets bounded by their total size. Safe for
// concurrent use; the zero value is a cache of DefaultAssetCacheBytes.
type assetCache struct {
	mu    sync.Mutex
	max   int64 // bytes; 0: DefaultAssetCacheBytes
	size  int64
	order *list.List // front: most recently used; values *whitelabel.Asset
	byKey map[string]*list.Element
}

func (c *assetCache) get(hash string) (*whitelabel.Asset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[hash]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*whitelabel.Asset), true
}

func (c *assetCache) add(hash string, a *whitelabel.Asset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.max
	if limit == 0 {
		limit = DefaultAssetCacheBytes
	}
	n := int64(len(a.Data))
	if n > limit {
		return
	}
	if c.byKey == nil {
		c.byKey = map[string]*list.Element{}
		c.order = list.New()
	}
	if _, ok := c.byKey[hash]; ok {
		return
	}
	c.byKey[hash] = c.order.PushFront(a)
	c.size += n
	for c.size > limit {
		old := c.order.Back()
		oa := c.order.Remove(old).(*whitelabel.Asset)
		delete(c.byKey, oa.SHA256)
		c.size -= int64(len(oa.Data))
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
