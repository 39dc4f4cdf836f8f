package control

import (
	"net/http"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// emailTemplateView is one template as the API shows it: the override
// when the tenant has one, else the built-in.
type emailTemplateView struct {
	Name              string   `json:"name"`
	Subject           string   `json:"subject"`
	HTML              string   `json:"html"`
	Text              string   `json:"text"`
	Overridden        bool     `json:"overridden"`
	Variables         []string `json:"variables"`
	OptionalVariables []string `json:"optional_variables"`
}

func emailView(name string, o *whitelabel.EmailTemplate) emailTemplateView {
	b, _ := theming.LookupBuiltinEmail(name)
	v := emailTemplateView{Name: name, Subject: b.Template.Subject, HTML: b.Template.HTML, Text: b.Template.Text,
		Variables: b.Variables, OptionalVariables: b.Optional}
	if v.OptionalVariables == nil {
		v.OptionalVariables = []string{}
	}
	if o != nil {
		v.Overridden = true
		if o.Subject != "" {
			v.Subject = o.Subject
		}
		if o.HTML != "" {
			v.HTML = o.HTML
		}
		if o.Text != "" {
			v.Text = o.Text
		}
	}
	return v
}

// emailStore returns the store's e-mail template side.
func (s *Server) emailStore() (whitelabel.EmailTemplateStore, error) {
	es, ok := s.store.(whitelabel.EmailTemplateStore)
	if !ok {
		return nil, whitelabel.Errorf(whitelabel.CodeUnavailable, "", "this store does not keep e-mail templates")
	}
	return es, nil
}

// templateName checks the {name} path value against the built-ins.
func templateName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if _, ok := theming.LookupBuiltinEmail(name); !ok {
		return "", whitelabel.NotFound("e-mail template " + name)
	}
	return name, nil
}

// override returns the tenant's override of name, or nil.
func override(r *http.Request, es whitelabel.EmailTemplateStore, tenantID int64, name string) (*whitelabel.EmailTemplate, error) {
	o, err := es.GetEmailTemplate(r.Context(), tenantID, name)
	if whitelabel.ErrorCodeOf(err) == whitelabel.CodeNotFound {
		return nil, nil
	}
	return o, err
}

func (s *Server) listEmailTemplates(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	es, err := s.emailStore()
	if err != nil {
		return err
	}
	list, err := es.ListEmailTemplates(r.Context(), t.ID)
	if err != nil {
		return err
	}
	byName := map[string]*whitelabel.EmailTemplate{}
	for _, o := range list {
		byName[o.Name] = o
	}
	out := []emailTemplateView{}
	for _, name := range theming.EmailNames() {
		out = append(out, emailView(name, byName[name]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}

func (s *Server) getEmailTemplate(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	name, err := templateName(r)
	if err != nil {
		return err
	}
	es, err := s.emailStore()
	if err != nil {
		return err
	}
	o, err := override(r, es, t.ID, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, emailView(name, o))
}

// putEmailTemplate stores the tenant's override of a built-in template
// after compiling it (theming.CompileEmail): syntax errors, constructs
// other than {{.var}}/{{if}}/{{with}} and unknown variables are 400s
// naming the part. Empty parts fall back to the built-in ones.
func (s *Server) putEmailTemplate(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	name, err := templateName(r)
	if err != nil {
		return err
	}
	var req theming.EmailTemplate
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := theming.CompileEmail(name, req); err != nil {
		return err
	}
	if err := refuseDeactivated(t); err != nil {
		return err
	}
	es, err := s.emailStore()
	if err != nil {
		return err
	}
	o := &whitelabel.EmailTemplate{TenantID: t.ID, Name: name, Subject: req.Subject, HTML: req.HTML, Text: req.Text}
	audit := rs.auditEntry("tenant.email_template", t)
	audit.TargetType, audit.TargetID = "email_template", name
	audit.After = mustJSON(o)
	if err := es.PutEmailTemplate(r.Context(), o, audit); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, emailView(name, o))
}

func (s *Server) deleteEmailTemplate(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	name, err := templateName(r)
	if err != nil {
		return err
	}
	es, err := s.emailStore()
	if err != nil {
		return err
	}
	audit := rs.auditEntry("tenant.email_template_reset", t)
	audit.TargetType, audit.TargetID = "email_template", name
	if err := es.DeleteEmailTemplate(r.Context(), t.ID, name, audit); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, emailView(name, nil))
}

// renderEmail renders a template (the tenant's override or the built-in)
// with the given variables in the tenant's brand: {subject, html, text}.
// Unknown or missing variables and template errors are 400s naming the
// variable or part.
func (s *Server) renderEmail(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	var req struct {
		Template  string            `json:"template"`
		Variables map[string]string `json:"variables"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, ok := theming.LookupBuiltinEmail(req.Template); !ok {
		return whitelabel.Invalid("template", "unknown e-mail template %q", req.Template)
	}
	es, err := s.emailStore()
	if err != nil {
		return err
	}
	o, err := override(r, es, t.ID, req.Template)
	if err != nil {
		return err
	}
	var src theming.EmailTemplate
	if o != nil {
		src = theming.EmailTemplate{Subject: o.Subject, HTML: o.HTML, Text: o.Text}
	}
	c, err := theming.CompileEmail(req.Template, src)
	if err != nil {
		return err
	}
	brand, _ := theming.ParseBrand(t.BrandConfig)
	opts := theming.EmailOptions{Brand: brand, SiteName: t.DisplayName}
	if s.cfg.BaseDomain != "" {
		opts.AssetBase = "https://" + t.Subdomain + "." + s.cfg.BaseDomain
	}
	out, err := c.Render(req.Variables, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
