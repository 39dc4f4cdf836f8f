package sso_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
)

// startSAMLIdPKey runs crewjam/saml's samlidp in process with one user,
// and returns it with its signing key and certificate.
func startSAMLIdPKey(t *testing.T) (*httptest.Server, *rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	hs := httptest.NewUnstartedServer(nil)
	u, _ := url.Parse("http://" + hs.Listener.Addr().String())
	idpSrv, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = idpSrv
	hs.Start()
	t.Cleanup(hs.Close)
	put(t, hs.URL+"/users/alice", `{"name":"alice","password":"hunter2","email":"alice@acme.com","groups":["staff"]}`)
	return hs, key, cert
}

// resignResponse signs the SAML Response x again with the IdP's key,
// after removing its signature and, with stripAssertion, its Assertion's,
// so that only the Response is signed.
func resignResponse(t *testing.T, x []byte, key *rsa.PrivateKey, cert *x509.Certificate, stripAssertion bool) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	unsign := func(el *etree.Element) {
		for _, c := range el.ChildElements() {
			if c.Tag == "Signature" {
				el.RemoveChild(c)
			}
		}
	}
	unsign(root)
	for _, c := range root.ChildElements() {
		if c.Tag == "Assertion" && stripAssertion {
			unsign(c)
		}
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(root)
	if err != nil {
		t.Fatal(err)
	}
	doc.SetRoot(signed)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func put(t *testing.T, u, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("PUT %s = %d %s", u, res.StatusCode, b)
	}
}

var encKeyRE = regexp.MustCompile(`(?s)<(\w+:)?KeyDescriptor use="encryption">.*?</(\w+:)?KeyDescriptor>`)

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)"`)

func hidden(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// samlLogin starts a login at the edge, signs in at the IdP and returns
// the form the IdP would have the browser post to the ACS.
func samlLogin(t *testing.T, w *world, br *http.Client, idpURL string) url.Values {
	t.Helper()
	loc := loginTo(t, br, w.siteURL("acme", "/app/saml?y=2"))
	if !strings.HasPrefix(loc.String(), idpURL+"/sso") || loc.Query().Get("RelayState") == "" {
		t.Fatalf("login went to %s, want the IdP's /sso with a RelayState", loc)
	}
	res, err := http.Get(loc.String()) // the login form
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := hidden(string(b))
	form.Set("user", "alice")
	form.Set("password", "hunter2")
	res, err = http.PostForm(idpURL+"/sso", form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	out := hidden(string(b))
	if out.Get("SAMLResponse") == "" {
		t.Fatalf("IdP gave no SAMLResponse: %d %s", res.StatusCode, b)
	}
	if out.Get("RelayState") != loc.Query().Get("RelayState") {
		t.Fatalf("RelayState changed at the IdP")
	}
	return out
}

func postACS(t *testing.T, w *world, br *http.Client, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", w.siteURL("acme", "/_edge/saml/acs"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	res, err := br.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestSAMLFlowThroughEdge(t *testing.T) {
	w := newWorld(t)
	idpSrv, idpKey, idpCert := startSAMLIdPKey(t)
	a := w.tenant("acme")
	cfg := w.api("PUT", "/tenants/"+strconv.FormatInt(a, 10)+"/sso/saml", map[string]any{"idp_metadata_url": idpSrv.URL + "/metadata", "name": "Acme SAML"}, 200)
	if cfg["sp_private_key_set"] != true || cfg["sp_certificate"] == "" {
		t.Fatalf("saml config = %v, want a generated SP key pair", cfg)
	}
	w.startEdge()

	// Register the SP's metadata with the IdP.
	res, md := get(t, w.browser(), w.siteURL("acme", "/_edge/saml/metadata"))
	if res.StatusCode != 200 || !strings.Contains(md, "/_edge/saml/acs") {
		t.Fatalf("SP metadata = %d %s", res.StatusCode, md)
	}
	// Without the encryption key the IdP sends the assertion in clear,
	// so the tests below can tamper with what the signature covers.
	put(t, idpSrv.URL+"/services/acme", encKeyRE.ReplaceAllString(md, ""))

	br := w.browser()
	form := samlLogin(t, w, br, idpSrv.URL)
	res = postACS(t, w, br, form)
	if res.StatusCode != 303 || res.Header.Get("Location") != "/app/saml?y=2" {
		t.Fatalf("ACS = %d → %q, want 303 to /app/saml?y=2", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get(t, br, w.siteURL("acme", "/app/saml?y=2"))
	if res.StatusCode != 200 {
		t.Fatalf("after SAML login = %d %s", res.StatusCode, body)
	}
	_, h := upstreamSaw(t, body)
	if h.Get("X-Auth-User") != "alice@acme.com" || h.Get("X-Auth-Email") != "alice@acme.com" || h.Get("X-Auth-Groups") != "staff" || h.Get("X-Edge-Assertion") == "" {
		t.Errorf("identity = user %q email %q groups %q", h.Get("X-Auth-User"), h.Get("X-Auth-Email"), h.Get("X-Auth-Groups"))
	}
	// The same response again: its RelayState was used.
	if res := postACS(t, w, w.browser(), form); res.StatusCode < 400 {
		t.Errorf("replayed SAMLResponse = %d, want refused", res.StatusCode)
	}

	tamper := func(name string, f func(xml []byte) []byte) {
		t.Run(name, func(t *testing.T) {
			br := w.browser()
			form := samlLogin(t, w, br, idpSrv.URL)
			xml, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
			if err != nil {
				t.Fatal(err)
			}
			form.Set("SAMLResponse", base64.StdEncoding.EncodeToString(f(xml)))
			if res := postACS(t, w, br, form); res.StatusCode != 401 {
				t.Errorf("%s response = %d, want 401", name, res.StatusCode)
			}
			if res, _ := get(t, br, w.siteURL("acme", "/app"), "Accept", "application/json"); res.StatusCode != 401 {
				t.Errorf("signed in after a %s response", name)
			}
		})
	}
	sigRE := regexp.MustCompile(`(?s)<ds:Signature.*?</ds:Signature>`)
	tamper("unsigned", func(x []byte) []byte { return sigRE.ReplaceAll(x, nil) })
	tamper("wrongly signed", func(x []byte) []byte { return bytes.ReplaceAll(x, []byte("alice@acme.com"), []byte("admin@acme.com")) })
	// Signed assertions are required: a validly signed Response around
	// an unsigned Assertion is not enough.
	tamper("assertion unsigned in a signed response", func(x []byte) []byte { return resignResponse(t, x, idpKey, idpCert, true) })
	// The control: re-signing the Response alone keeps it acceptable.
	t.Run("response re-signed", func(t *testing.T) {
		br := w.browser()
		form := samlLogin(t, w, br, idpSrv.URL)
		x, _ := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
		form.Set("SAMLResponse", base64.StdEncoding.EncodeToString(resignResponse(t, x, idpKey, idpCert, false)))
		if res := postACS(t, w, br, form); res.StatusCode != 303 {
			t.Errorf("re-signed response = %d, want 303", res.StatusCode)
		}
	})

	// IdP-initiated (no RelayState) is off by default.
	t.Run("unsolicited", func(t *testing.T) {
		br := w.browser()
		form := samlLogin(t, w, br, idpSrv.URL)
		form.Del("RelayState")
		if res := postACS(t, w, br, form); res.StatusCode != 401 {
			t.Errorf("unsolicited response = %d, want 401", res.StatusCode)
		}
	})
}
