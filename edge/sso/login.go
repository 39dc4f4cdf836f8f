package sso

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/idp"
	"github.com/estatecore/whitelabel/theming"
)

// Cookie names. On TLS the __Host- prefix makes browsers enforce
// host-only, Secure and Path=/.
const (
	sessionCookie    = "wl_session"
	browserCookie    = "wl_login"
	hostCookiePrefix = "__Host-"
)

func cookieName(r *http.Request, base string) string {
	if r.TLS != nil {
		return hostCookiePrefix + base
	}
	return base
}

// setCookie sets a host-only (no Domain), HttpOnly, SameSite=Lax cookie,
// Secure on TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

func cookieValue(r *http.Request, base string) string {
	c, err := r.Cookie(cookieName(r, base))
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	return c.Value
}

// hashID is the stored key of a cookie value.
func hashID(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// wantsHTML reports whether r comes from a browser navigating: Accept
// names text/html and no X-Requested-With.
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

// SafeReturnPath turns a return URL into a path on the same host, or ""
// when it is not one: only a path starting with a single "/" (not "//",
// "/\" or any backslash), without scheme or host, control characters or
// /_edge/, is kept. An absolute URL is accepted only for host itself.
func SafeReturnPath(raw, host string) string {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\") ||
		strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return ""
	}
	if u.Scheme != "" || u.Host != "" {
		if (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, host) {
			return ""
		}
	} else if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return ""
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/_edge/") {
		return ""
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

// loginURL is where a user signs in before coming back to returnTo.
func loginURL(r *http.Request, returnTo string) string {
	return origin(r) + LoginPath + "?return_to=" + url.QueryEscape(returnTo)
}

// requireLogin answers an unauthenticated request to a protected path:
// 401 JSON with the login URL for API clients; for browsers the login
// itself (one provider) or the login page (several).
func (g *Gate) requireLogin(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) {
	returnTo := "/"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if p := SafeReturnPath(r.URL.RequestURI(), r.Host); p != "" {
			returnTo = p
		}
	}
	if !wantsHTML(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sso"`)
		g.writeJSONError(w, r, http.StatusUnauthorized, whitelabel.CodeUnauthorized, "sign-in required", loginURL(r, returnTo))
		return
	}
	if len(tc.SSO) == 1 {
		g.startLogin(w, r, tc, tc.SSO[0].Provider, returnTo)
		return
	}
	http.Redirect(w, r, loginURL(r, returnTo), http.StatusFound)
}

// login serves /_edge/login: ?provider= (or a single provider) starts a
// login; otherwise the branded chooser.
func (g *Gate) login(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.fail(w, r, tc, whitelabel.Errorf(whitelabel.CodeMethodNotAllowed, "", "method not allowed"))
		return
	}
	q := r.URL.Query()
	returnTo := SafeReturnPath(q.Get("return_to"), r.Host)
	if returnTo == "" {
		returnTo = "/"
	}
	kind := whitelabel.SSOProviderKind(q.Get("provider"))
	if kind == "" && len(tc.SSO) == 1 {
		kind = tc.SSO[0].Provider
	}
	if kind != "" {
		g.startLogin(w, r, tc, kind, returnTo)
		return
	}
	g.loginPage(w, r, tc, returnTo)
}

// startLogin stores a new login state and redirects to the provider.
func (g *Gate) startLogin(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig, kind whitelabel.SSOProviderKind, returnTo string) {
	c, p, err := g.configFor(r, tc, kind)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	browser := cookieValue(r, browserCookie)
	if browser == "" {
		browser = idp.RandomString(18)
	}
	now := g.cfg.Now()
	st := &whitelabel.SSOLoginState{
		State: idp.RandomString(32), TenantID: tc.Tenant.ID, Host: hostOf(r), Browser: hashID(browser),
		Provider: kind, ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(g.cfg.LoginTTL),
	}
	dest, err := p.AuthorizationURL(r.Context(), c, st)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	ctx, cancel := g.storeCtx(r.Context())
	err = g.cfg.Sessions.PutLoginState(ctx, st, g.cfg.MaxLoginsPerBrowser)
	cancel()
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	setCookie(w, r, browserCookie, browser, int(g.cfg.LoginTTL.Seconds()))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, dest, http.StatusFound)
}

// maxCallbackBody bounds a posted SAMLResponse.
const maxCallbackBody = 1 << 20

// callback finishes a login: it consumes the state named by the
// callback (once; a replay finds nothing), checks that it was started
// for this tenant, host and (for redirects) browser, lets the provider
// verify the response, applies the allow lists and creates the session.
func (g *Gate) callback(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) {
	isACS := r.URL.Path == idp.SAMLACSPath
	var stateValue string
	if isACS {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			g.fail(w, r, tc, whitelabel.Errorf(whitelabel.CodeMethodNotAllowed, "", "method not allowed"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
		if err := r.ParseForm(); err != nil {
			g.fail(w, r, tc, whitelabel.Invalid("", "malformed SAML response form"))
			return
		}
		stateValue = r.PostForm.Get("RelayState")
	} else {
		stateValue = r.URL.Query().Get("state")
	}
	var st *whitelabel.SSOLoginState
	if stateValue != "" && len(stateValue) <= 128 {
		ctx, cancel := g.storeCtx(r.Context())
		var err error
		st, err = g.cfg.Sessions.ConsumeLoginState(ctx, stateValue, g.cfg.Now())
		cancel()
		if err != nil && whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
			g.fail(w, r, tc, err)
			return
		}
	}
	kind := whitelabel.SSOSAML
	switch {
	case st != nil:
		if st.TenantID != tc.Tenant.ID || st.Host != hostOf(r) {
			g.fail(w, r, tc, refusal("this sign-in was started on another site; start again"))
			return
		}
		// A redirect callback is a top-level GET, so the Lax login cookie
		// comes with it: the login must finish in the browser that
		// started it (no login CSRF). A cross-site POST (SAML) carries no
		// Lax cookie; its InResponseTo binds it instead.
		if !isACS && subtle.ConstantTimeCompare([]byte(hashID(cookieValue(r, browserCookie))), []byte(st.Browser)) != 1 {
			g.fail(w, r, tc, refusal("this sign-in was started in another browser; start again"))
			return
		}
		kind = st.Provider
	case isACS && allowsIdPInitiated(tc):
		// Unsolicited response: RelayState is ignored, never a URL.
	default:
		g.fail(w, r, tc, refusal("this sign-in has expired or was already used; start again"))
		return
	}
	c, p, err := g.configFor(r, tc, kind)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	if idp.CallbackPath(p) != r.URL.Path && !(r.URL.Path == idp.DefaultCallbackPath) {
		g.fail(w, r, tc, refusal("this callback does not belong to the sign-in method"))
		return
	}
	id, err := p.ProcessCallback(r.Context(), c, st, r)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	if err := authorize(&c.SSOConfig, id); err != nil {
		g.fail(w, r, tc, err)
		return
	}
	returnTo := "/"
	if st != nil && st.ReturnTo != "" {
		returnTo = st.ReturnTo
	}
	if err := g.createSession(w, r, tc, kind, id); err != nil {
		g.fail(w, r, tc, err)
		return
	}
	setCookie(w, r, browserCookie, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

func allowsIdPInitiated(tc *whitelabel.TenantConfig) bool {
	for _, c := range tc.SSO {
		if c.Provider == whitelabel.SSOSAML && c.AllowIdPInitiated {
			return true
		}
	}
	return false
}

// authorize applies c's allowed e-mail domains and groups to id.
func authorize(c *whitelabel.SSOConfig, id *idp.Identity) error {
	if len(c.AllowedEmailDomains) > 0 {
		_, domain, ok := strings.Cut(strings.ToLower(id.Email), "@")
		if !ok || !slices.ContainsFunc(c.AllowedEmailDomains, func(d string) bool { return strings.EqualFold(d, domain) }) {
			return &whitelabel.Error{Code: whitelabel.CodeForbidden, Message: "your account's e-mail domain may not sign in to this site"}
		}
	}
	if len(c.AllowedGroups) > 0 && !slices.ContainsFunc(id.Groups, func(g string) bool { return slices.Contains(c.AllowedGroups, g) }) {
		return &whitelabel.Error{Code: whitelabel.CodeForbidden, Message: "your account is not in a group that may sign in to this site"}
	}
	return nil
}

// logout ends the session here and, where the provider offers it, at
// the provider.
func (g *Gate) logout(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, POST")
		g.fail(w, r, tc, whitelabel.Errorf(whitelabel.CodeMethodNotAllowed, "", "method not allowed"))
		return
	}
	sess, _ := g.session(r, tc)
	if v := cookieValue(r, sessionCookie); v != "" {
		g.sessions.remove(hashID(v))
		ctx, cancel := g.storeCtx(r.Context())
		err := g.cfg.Sessions.DeleteSession(ctx, hashID(v))
		cancel()
		if err != nil {
			g.fail(w, r, tc, err)
			return
		}
	}
	setCookie(w, r, sessionCookie, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	dest := "/"
	if sess != nil {
		if c, p, err := g.configFor(r, tc, sess.Provider); err == nil {
			if lp, ok := p.(idp.LogoutURLer); ok {
				if u, err := lp.LogoutURL(r.Context(), c, sess, origin(r)+"/"); err == nil && u != "" {
					dest = u
				}
			}
		}
	}
	http.Redirect(w, r, dest, http.StatusFound)
}

// samlMetadata serves the tenant host's SAML SP metadata.
func (g *Gate) samlMetadata(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig) {
	c, p, err := g.configFor(r, tc, whitelabel.SSOSAML)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	mp, ok := p.(idp.MetadataProvider)
	if !ok {
		g.fail(w, r, tc, whitelabel.NotFound("metadata"))
		return
	}
	b, err := mp.Metadata(r.Context(), c)
	if err != nil {
		g.fail(w, r, tc, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// refusal is a refused sign-in with a public reason.
func refusal(msg string) *whitelabel.Error {
	return &whitelabel.Error{Code: whitelabel.CodeUnauthorized, Message: msg}
}

// shownCode reports whether a sign-in error with code is answered with
// its own status (whitelabel.HTTPStatus) and public message. Unlike
// control and the rest of the edge, sign-in shows only these codes: any
// other (a store conflict, a precondition) is an internal failure of the
// flow, answered 500 with a generic message.
func shownCode(code whitelabel.ErrorCode) bool {
	switch code {
	case whitelabel.CodeInvalid, whitelabel.CodeUnauthorized, whitelabel.CodeForbidden,
		whitelabel.CodeNotFound, whitelabel.CodeMethodNotAllowed, whitelabel.CodeUnavailable:
		return true
	}
	return false
}

// fail answers r with err: its public message (internal errors are
// logged and shown generically), as JSON or a branded page.
func (g *Gate) fail(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig, err error) {
	var pub *whitelabel.Error
	status := http.StatusInternalServerError
	code, msg := whitelabel.CodeInternal, "internal error"
	if errors.As(err, &pub) && shownCode(pub.Code) {
		status, code, msg = whitelabel.HTTPStatus(pub.Code), pub.Code, pub.Message
	}
	reqID := w.Header().Get("X-Request-Id")
	lvl := g.log.Info
	if status >= 500 {
		lvl = g.log.Error
	}
	lvl("sso: request refused", "tenant", tc.Tenant.ID, "path", r.URL.Path, "status", status, "error", err, "request_id", reqID)
	login := ""
	if code == whitelabel.CodeUnauthorized || code == whitelabel.CodeForbidden {
		login = loginURL(r, "/")
	}
	if !wantsHTML(r) {
		g.writeJSONError(w, r, status, code, msg, login)
		return
	}
	brand, _ := theming.ParseBrand(tc.Tenant.BrandConfig)
	var body bytes.Buffer
	m := capitalize(msg) + "."
	theming.Render(&body, theming.Page{Kind: theming.PageGeneric, Brand: brand, Status: status, Title: "Sign-in problem", Message: m, RequestID: reqID})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body.Bytes())
	}
}

// writeJSONError writes the edge's JSON error document, plus login_url
// when signing in would help.
func (g *Gate) writeJSONError(w http.ResponseWriter, r *http.Request, status int, code whitelabel.ErrorCode, msg, login string) {
	type detail struct {
		Code      whitelabel.ErrorCode `json:"code"`
		Message   string               `json:"message"`
		RequestID string               `json:"request_id,omitempty"`
	}
	b, _ := json.Marshal(struct {
		Error    detail `json:"error"`
		LoginURL string `json:"login_url,omitempty"`
	}{detail{code, msg, w.Header().Get("X-Request-Id")}, login})
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// loginPage lists the tenant's providers.
func (g *Gate) loginPage(w http.ResponseWriter, r *http.Request, tc *whitelabel.TenantConfig, returnTo string) {
	brand, _ := theming.ParseBrand(tc.Tenant.BrandConfig)
	primary := brand.Primary
	if primary == "" {
		primary = theming.DefaultPrimary
	}
	type link struct{ Name, URL string }
	d := struct {
		SiteName, Primary string
		Links             []link
	}{SiteName: brand.Name, Primary: primary}
	if d.SiteName == "" {
		d.SiteName = tc.Tenant.DisplayName
	}
	for _, c := range tc.SSO {
		name := c.Name
		if name == "" {
			name = idp.DefaultName(c.Provider)
		}
		d.Links = append(d.Links, link{name, LoginPath + "?provider=" + url.QueryEscape(string(c.Provider)) + "&return_to=" + url.QueryEscape(returnTo)})
	}
	var body bytes.Buffer
	if err := loginTmpl.Execute(&body, d); err != nil {
		g.fail(w, r, tc, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body.Bytes())
	}
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in · {{.SiteName}}</title>
<style>
:root { --color-primary: {{.Primary}}; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2330; background: #f6f7f9; }
header { background: var(--color-primary); color: #fff; padding: 1rem 1.5rem; font-weight: 600; min-height: 1.5rem; }
main { max-width: 24rem; margin: 4rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1.5rem; color: var(--color-primary); }
a.provider { display: block; margin: 0 0 .75rem; padding: .8rem 1rem; border-radius: .4rem; background: var(--color-primary); color: #fff; text-decoration: none; text-align: center; }
</style>
</head>
<body>
<header>{{.SiteName}}</header>
<main>
<h1>Sign in</h1>
{{range .Links}}<a class="provider" href="{{.URL}}">{{.Name}}</a>
{{end}}</main>
</body>
</html>
`))
