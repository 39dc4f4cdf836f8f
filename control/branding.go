package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg" // DecodeConfig of uploads
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"strings"

	_ "golang.org/x/image/webp"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// MaxAssetBytes is the largest asset an upload may carry (2 MiB).
const MaxAssetBytes = 2 << 20

// maxAssetPixels bounds an uploaded image's width and height.
const maxAssetPixels = 4096

// multipartRequests are the route Request names whose body is
// multipart/form-data rather than JSON: the adapter does not insist on
// JSON for them, and the OpenAPI document says multipart.
var multipartRequests = map[string]bool{"AssetUpload": true}

// rawResponses are the route Response names whose body is not JSON, with
// their media types.
var rawResponses = map[string]string{"ThemeCSS": "text/css", "PreviewPage": "text/html"}

// brandingSchemas are the component schemas of the theming routes,
// merged into componentSchemas.
const brandingSchemas = `{
  "ThemeCSS": {"type": "string", "description": "the tenant's theme stylesheet"},
  "PreviewPage": {"type": "string", "description": "a sample HTML page in the tenant's brand"},
  "AssetUpload": {
    "type": "object", "required": ["file", "asset_type"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "PNG, JPEG, WebP or ICO, at most 2 MiB and 4096×4096; SVG is rejected"},
      "asset_type": {"type": "string", "enum": ["logo", "favicon", "background"]}}
  },
  "Asset": {
    "type": "object",
    "properties": {"sha256": {"type": "string"}, "content_type": {"type": "string"}, "size": {"type": "integer"},
      "asset_type": {"type": "string"}, "url": {"type": "string", "description": "path the edge serves it at on the tenant's hosts"},
      "brand_config": {"type": "object"}}
  },
  "EmailTemplateBody": {
    "type": "object", "additionalProperties": false,
    "properties": {"subject": {"type": "string"}, "html": {"type": "string"}, "text": {"type": "string"}}
  },
  "EmailTemplate": {
    "type": "object",
    "properties": {"name": {"type": "string"}, "subject": {"type": "string"}, "html": {"type": "string"}, "text": {"type": "string"},
      "overridden": {"type": "boolean"}, "variables": {"type": "array", "items": {"type": "string"}},
      "optional_variables": {"type": "array", "items": {"type": "string"}}}
  },
  "EmailTemplateList": {"type": "object", "properties": {"templates": {"type": "array", "items": {"$ref": "#/components/schemas/EmailTemplate"}}}},
  "EmailRender": {
    "type": "object", "additionalProperties": false, "required": ["template"],
    "properties": {"template": {"type": "string"}, "variables": {"type": "object", "additionalProperties": {"type": "string"}}}
  },
  "RenderedEmail": {"type": "object", "properties": {"subject": {"type": "string"}, "html": {"type": "string"}, "text": {"type": "string"}}}
}`

// brandingView is the body of the branding endpoints: the overrides as
// stored, the effective brand (defaults filled in) and the theme's URL on
// the tenant's hosts.
type brandingView struct {
	TenantID    int64           `json:"tenant_id"`
	BrandConfig json.RawMessage `json:"brand_config"`
	Effective   map[string]any  `json:"effective"`
	ThemeURL    string          `json:"theme_url"`
}

func brandingOf(t *whitelabel.Tenant) brandingView {
	b := t.BrandConfig
	if len(b) == 0 {
		b = json.RawMessage("{}")
	}
	brand, _ := theming.ParseBrand(b) // validated on write; keep what is valid
	th := theming.NewTheme(brand)
	return brandingView{TenantID: t.ID, BrandConfig: b, Effective: brand.EffectiveConfig(), ThemeURL: theming.ThemePath + "?v=" + th.Version}
}

func (s *Server) getBranding(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, brandingOf(t))
}

// putBranding merges the request body into the tenant's brand config as
// a JSON Merge Patch (RFC 7396): keys given replace the stored ones,
// nested objects merge key by key, null removes a key (back to the
// default), keys not given stay. So the reference document's update,
// {"colors":{"primary":…}}, changes the primary colour and keeps the
// rest; PUT {} changes nothing. The merged result is validated as a
// whole (theming.ParseBrand), and asset paths must be this tenant's
// uploads. With If-Match the merge applies only to that version.
func (s *Server) putBranding(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	if _, err := s.loadTenant(r.Context(), r, rs); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	// The patch itself must be well-typed ({"inject":{}} is an error,
	// not a no-op); the merged result is checked again below.
	if _, err := validateBrandConfig("", body); err != nil {
		return err
	}
	t, err := s.mutateTenant(r, rs, "tenant.branding", "", func(t *whitelabel.Tenant) error {
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		merged, err := theming.MergeBrandConfig(t.BrandConfig, body)
		if err != nil {
			return err
		}
		brand, err := validateBrandConfig("", merged)
		if err != nil {
			return err
		}
		if err := s.checkAssetRefs(r, t.ID, brand); err != nil {
			return err
		}
		t.BrandConfig = brand
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, brandingOf(t))
}

// checkAssetRefs refuses asset paths in brand that the tenant has not
// uploaded, naming the field.
func (s *Server) checkAssetRefs(r *http.Request, tenantID int64, brand json.RawMessage) error {
	b, _ := theming.ParseBrand(brand)
	var owned map[string]bool
	for _, f := range []string{"logo.primary", "logo.favicon", "logo.background"} {
		id, ok := theming.AssetID(b.Value(f))
		if !ok {
			continue
		}
		if owned == nil {
			as, ok := s.store.(whitelabel.AssetStore)
			if !ok {
				return whitelabel.Invalid(f, "this store does not keep uploaded assets")
			}
			list, err := as.ListTenantAssets(r.Context(), tenantID)
			if err != nil {
				return err
			}
			owned = map[string]bool{}
			for _, a := range list {
				owned[theming.AssetPath(a.SHA256, a.ContentType)] = true
			}
		}
		if !owned[id] {
			return whitelabel.Invalid(f, "%s refers to an asset this tenant has not uploaded", f)
		}
	}
	return nil
}

// getThemeCSS serves the tenant's theme stylesheet as the edge does,
// with a strong ETag and 304 on If-None-Match.
func (s *Server) getThemeCSS(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	brand, _ := theming.ParseBrand(t.BrandConfig)
	th := theming.NewTheme(brand)
	h := w.Header()
	h.Set("ETag", th.ETag)
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for tag := range strings.SplitSeq(inm, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || strings.TrimPrefix(tag, "W/") == th.ETag {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	}
	h.Set("Content-Type", "text/css; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(th.CSS)
	return err
}

// getPreview serves a sample page in the tenant's brand.
func (s *Server) getPreview(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	brand, _ := theming.ParseBrand(t.BrandConfig)
	var buf bytes.Buffer
	if err := theming.RenderPreview(&buf, brand, t.DisplayName); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// assetView is the body of an upload's answer.
type assetView struct {
	SHA256      string               `json:"sha256"`
	ContentType string               `json:"content_type"`
	Size        int64                `json:"size"`
	AssetType   whitelabel.AssetType `json:"asset_type"`
	URL         string               `json:"url"`
	BrandConfig json.RawMessage      `json:"brand_config"`
}

// assetField is the brand field an upload of each type sets.
var assetField = map[whitelabel.AssetType][2]string{
	whitelabel.AssetLogo:       {"logo", "primary"},
	whitelabel.AssetFavicon:    {"logo", "favicon"},
	whitelabel.AssetBackground: {"logo", "background"},
}

// uploadAsset takes a multipart upload (file, asset_type), detects the
// image type from the bytes (PNG, JPEG, WebP, ICO; SVG and anything else
// are refused with 415), stores it content-addressed and points the
// brand's field for the type at it (logo → logo.primary, favicon →
// logo.favicon, background → logo.background), which reaches the edges
// through the change feed like any brand change.
func (s *Server) uploadAsset(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	if _, err := s.loadTenant(r.Context(), r, rs); err != nil {
		return err
	}
	as, ok := s.store.(whitelabel.AssetStore)
	if !ok {
		return whitelabel.Errorf(whitelabel.CodeUnavailable, "", "this store does not keep uploaded assets")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return whitelabel.Errorf(whitelabel.CodeUnsupportedMedia, "", "Content-Type must be multipart/form-data with fields file and asset_type")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxAssetBytes+64<<10)
	if err := r.ParseMultipartForm(MaxAssetBytes + 64<<10); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return whitelabel.Errorf(whitelabel.CodeTooLarge, "file", "the upload exceeds %d bytes", MaxAssetBytes)
		}
		return whitelabel.Invalid("", "malformed multipart body: %v", err)
	}
	defer r.MultipartForm.RemoveAll()
	typ := whitelabel.AssetType(r.FormValue("asset_type"))
	field, ok := assetField[typ]
	if !ok {
		return whitelabel.Invalid("asset_type", "asset_type must be logo, favicon or background")
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return whitelabel.Invalid("file", "a file field is required")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxAssetBytes+1))
	if err != nil {
		return whitelabel.Invalid("file", "could not read the file")
	}
	if len(data) > MaxAssetBytes {
		return whitelabel.Errorf(whitelabel.CodeTooLarge, "file", "the file exceeds %d bytes", MaxAssetBytes)
	}
	ct, err := sniffImage(data)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	a := &whitelabel.Asset{SHA256: hex.EncodeToString(sum[:]), ContentType: ct, Size: int64(len(data)), Data: data}
	path := theming.AssetPath(a.SHA256, ct)
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	if err := refuseDeactivated(t); err != nil {
		return err
	}
	audit := rs.auditEntry("tenant.asset_upload", t)
	audit.TargetType, audit.TargetID = "asset", a.SHA256
	audit.After = mustJSON(map[string]any{"sha256": a.SHA256, "content_type": ct, "size": a.Size, "asset_type": typ})
	if err := as.PutAsset(r.Context(), t.ID, typ, a, audit); err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{field[0]: map[string]string{field[1]: path}})
	t, err = s.mutateTenant(r, rs, "tenant.branding", "asset upload", func(t *whitelabel.Tenant) error {
		merged, err := theming.MergeBrandConfig(t.BrandConfig, patch)
		if err != nil {
			return err
		}
		brand, err := validateBrandConfig("", merged)
		if err != nil {
			return err
		}
		t.BrandConfig = brand
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusCreated, assetView{SHA256: a.SHA256, ContentType: ct, Size: a.Size, AssetType: typ, URL: path, BrandConfig: t.BrandConfig})
}

// sniffImage returns the content type of an accepted image, judged by
// its bytes alone (the client's filename and part Content-Type are
// ignored), or a CodeUnsupportedMedia error. PNG, JPEG and WebP must
// decode their header and be at most 4096 pixels each way. SVG is
// refused, not sanitized: it is a document that can carry scripts and
// external references, and the brand does not need vector logos badly
// enough to run a sanitizer on the upload path.
func sniffImage(data []byte) (string, error) {
	var ct string
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		ct = "image/png"
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		ct = "image/jpeg"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		ct = "image/webp"
	case len(data) >= 22 && data[0] == 0 && data[1] == 0 && data[2] == 1 && data[3] == 0 && (data[4] != 0 || data[5] != 0):
		ct = "image/vnd.microsoft.icon"
	default:
		head := strings.ToLower(string(data[:min(len(data), 512)]))
		if strings.Contains(head, "<svg") || strings.Contains(head, "<?xml") {
			return "", whitelabel.Errorf(whitelabel.CodeUnsupportedMedia, "file", "SVG is not accepted (it can carry scripts); upload PNG, JPEG, WebP or ICO")
		}
		return "", whitelabel.Errorf(whitelabel.CodeUnsupportedMedia, "file", "the file is not a PNG, JPEG, WebP or ICO image")
	}
	if ct == "image/vnd.microsoft.icon" {
		return ct, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", whitelabel.Invalid("file", "the %s image is damaged: %v", strings.TrimPrefix(ct, "image/"), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxAssetPixels || cfg.Height > maxAssetPixels {
		return "", whitelabel.Invalid("file", "the image must be at most %d×%d pixels", maxAssetPixels, maxAssetPixels)
	}
	return ct, nil
}
