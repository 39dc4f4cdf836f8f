package theming

import (
	"bytes"
	htmltemplate "html/template"
	"maps"
	"slices"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/estatecore/whitelabel"
)

// Limits of e-mail templates and their variables.
const (
	maxTemplateBytes = 64 << 10
	maxVariableRunes = 2000
)

// EmailTemplate is the source of one e-mail: a subject and a plain-text
// body in text/template syntax and an HTML body in html/template syntax.
// Templates may use {{.variable}}, {{if .variable}}…{{else}}…{{end}} and
// {{with .variable}}…{{end}} and nothing else: no functions, no
// {{define}} or {{template}}, no pipelines. The HTML body is the content
// only; RenderEmail wraps it in the brand's layout (logo, colours,
// footer).
type EmailTemplate struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// BuiltinEmail describes a built-in template: its default source and the
// variables callers may pass.
type BuiltinEmail struct {
	Template  EmailTemplate
	Variables []string // sorted; each is required unless in Optional
	Optional  []string
}

// BrandVariables returns the variables set from the brand for every
// template; callers may not pass them. The slice is the caller's.
func BrandVariables() []string { return []string{brandName, supportEmail} }

// The brand variables' names.
const (
	brandName    = "brand_name"
	supportEmail = "support_email"
)

// builtinEmails are the e-mails every tenant has. A tenant may override
// any of them (same name, same variables). Read only.
var builtinEmails = map[string]BuiltinEmail{
	"welcome_email": {
		Template: EmailTemplate{
			Subject: `Welcome to {{.brand_name}}, {{.user_name}}`,
			HTML:    `<p>Hi {{.user_name}},</p><p>Welcome to {{.brand_name}}. Your account is ready.</p>{{if .login_url}}<p><a class="button" href="{{.login_url}}">Sign in</a></p>{{end}}`,
			Text:    "Hi {{.user_name}},\n\nWelcome to {{.brand_name}}. Your account is ready.\n{{if .login_url}}\nSign in: {{.login_url}}\n{{end}}",
		},
		Variables: []string{"login_url", "user_name"},
		Optional:  []string{"login_url"},
	},
	"password_reset": {
		Template: EmailTemplate{
			Subject: `Reset your {{.brand_name}} password`,
			HTML:    `<p>Hi {{.user_name}},</p><p>Someone asked to reset your password. If it was you, choose a new one:</p><p><a class="button" href="{{.reset_url}}">Reset password</a></p><p>The link expires in {{.expires_in}}. If you did not ask, ignore this e-mail.</p>`,
			Text:    "Hi {{.user_name}},\n\nSomeone asked to reset your password. If it was you, choose a new one:\n{{.reset_url}}\n\nThe link expires in {{.expires_in}}. If you did not ask, ignore this e-mail.\n",
		},
		Variables: []string{"expires_in", "reset_url", "user_name"},
	},
	"invitation": {
		Template: EmailTemplate{
			Subject: `{{.inviter_name}} invited you to {{.brand_name}}`,
			HTML:    `<p>Hi{{with .user_name}} {{.}}{{end}},</p><p>{{.inviter_name}} invited you to join {{.brand_name}}.</p><p><a class="button" href="{{.accept_url}}">Accept the invitation</a></p>`,
			Text:    "Hi{{with .user_name}} {{.}}{{end}},\n\n{{.inviter_name}} invited you to join {{.brand_name}}.\nAccept the invitation: {{.accept_url}}\n",
		},
		Variables: []string{"accept_url", "inviter_name", "user_name"},
		Optional:  []string{"user_name"},
	},
}

// EmailNames returns the built-in template names, sorted.
func EmailNames() []string { return slices.Sorted(maps.Keys(builtinEmails)) }

// LookupBuiltinEmail returns the built-in e-mail called name, and whether
// there is one. The caller owns the returned slices.
func LookupBuiltinEmail(name string) (BuiltinEmail, bool) {
	b, ok := builtinEmails[name]
	b.Variables, b.Optional = slices.Clone(b.Variables), slices.Clone(b.Optional)
	return b, ok
}

// CompiledEmail is a validated template ready to render. It is safe for
// concurrent use.
type CompiledEmail struct {
	name    string
	vars    map[string]bool // what callers may pass: name → required
	subject *texttemplate.Template
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// CompileEmail checks t as a template for the built-in e-mail name: the
// name must be built in, each part must parse, stay within 64 KiB and use
// only the allowed constructs and the name's variables (plus
// BrandVariables). An empty part takes the built-in one. Errors are
// CodeInvalid and name the part ("subject", "html", "text") or "name".
func CompileEmail(name string, t EmailTemplate) (*CompiledEmail, error) {
	b, ok := builtinEmails[name]
	if !ok {
		return nil, whitelabel.Invalid("name", "unknown e-mail template %q (built in: %s)", name, strings.Join(EmailNames(), ", "))
	}
	if t.Subject == "" {
		t.Subject = b.Template.Subject
	}
	if t.HTML == "" {
		t.HTML = b.Template.HTML
	}
	if t.Text == "" {
		t.Text = b.Template.Text
	}
	c := &CompiledEmail{name: name, vars: map[string]bool{}}
	allowed := map[string]bool{}
	for _, v := range b.Variables {
		c.vars[v] = !slices.Contains(b.Optional, v)
		allowed[v] = true
	}
	allowed[brandName], allowed[supportEmail] = true, true
	var err error
	if c.subject, err = compileText("subject", t.Subject, allowed); err != nil {
		return nil, err
	}
	if c.text, err = compileText("text", t.Text, allowed); err != nil {
		return nil, err
	}
	if err := checkSize("html", t.HTML); err != nil {
		return nil, err
	}
	h, err := htmltemplate.New("html").Option("missingkey=zero").Parse(t.HTML)
	if err != nil {
		return nil, whitelabel.Invalid("html", "html template: %s", cleanTemplateError(err))
	}
	if err := checkTree("html", h.Tree, allowed); err != nil {
		return nil, err
	}
	c.html = h
	return c, nil
}

func checkSize(part, s string) error {
	if len(s) > maxTemplateBytes {
		return whitelabel.Invalid(part, "%s template is longer than %d bytes", part, maxTemplateBytes)
	}
	return nil
}

func compileText(part, src string, allowed map[string]bool) (*texttemplate.Template, error) {
	if err := checkSize(part, src); err != nil {
		return nil, err
	}
	t, err := texttemplate.New(part).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, whitelabel.Invalid(part, "%s template: %s", part, cleanTemplateError(err))
	}
	if len(t.Templates()) > 1 {
		return nil, whitelabel.Invalid(part, "%s template may not {{define}} templates", part)
	}
	if err := checkTree(part, t.Tree, allowed); err != nil {
		return nil, err
	}
	return t, nil
}

// cleanTemplateError drops the template's internal name prefix.
func cleanTemplateError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	return s
}

// checkTree allows text, {{.var}}, {{.}} inside with, and if/with/else
// on a single variable; anything else is refused, naming the part.
func checkTree(part string, tree *parse.Tree, allowed map[string]bool) error {
	if tree == nil || tree.Root == nil {
		return nil
	}
	var walk func(n parse.Node, inWith bool) error
	checkPipe := func(p *parse.PipeNode, inWith bool) error {
		if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
			return whitelabel.Invalid(part, "%s template: only {{.variable}} is allowed in actions, not %s", part, p)
		}
		switch a := p.Cmds[0].Args[0].(type) {
		case *parse.FieldNode:
			if len(a.Ident) != 1 {
				return whitelabel.Invalid(part, "%s template: %s is not a variable", part, a)
			}
			if !allowed[a.Ident[0]] {
				return whitelabel.Invalid(part, "%s template: unknown variable %q (allowed: %s)", part, a.Ident[0], strings.Join(slices.Sorted(maps.Keys(allowed)), ", "))
			}
		case *parse.DotNode:
			if !inWith {
				return whitelabel.Invalid(part, "%s template: {{.}} is only allowed inside {{with}}", part)
			}
		default:
			return whitelabel.Invalid(part, "%s template: only variables are allowed, not %s", part, a)
		}
		return nil
	}
	walk = func(n parse.Node, inWith bool) error {
		switch n := n.(type) {
		case nil:
			return nil
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c, inWith); err != nil {
					return err
				}
			}
		case *parse.TextNode, *parse.CommentNode:
		case *parse.ActionNode:
			return checkPipe(n.Pipe, inWith)
		case *parse.IfNode:
			if err := checkPipe(n.Pipe, inWith); err != nil {
				return err
			}
			if err := walk(n.List, inWith); err != nil {
				return err
			}
			return walk(n.ElseList, inWith)
		case *parse.WithNode:
			if err := checkPipe(n.Pipe, inWith); err != nil {
				return err
			}
			if err := walk(n.List, true); err != nil {
				return err
			}
			return walk(n.ElseList, inWith)
		default:
			return whitelabel.Invalid(part, "%s template: %s is not allowed (use {{.variable}}, {{if}} and {{with}})", part, n)
		}
		return nil
	}
	return walk(tree.Root, false)
}

// RenderedEmail is a rendered e-mail.
type RenderedEmail struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// EmailOptions are what RenderEmail needs besides the template.
type EmailOptions struct {
	Brand Brand
	// SiteName is shown when the brand has no name (the tenant's display
	// name).
	SiteName string
	// AssetBase turns the brand's own asset paths into absolute URLs, as
	// mail clients need: "https://acme.example.com". "" leaves the logo
	// out when it is one of our assets.
	AssetBase string
}

// Render renders c with vars. Passing a variable the template does not
// declare, leaving out a required one, or a value longer than 2000
// characters is a CodeInvalid error naming "variables.<name>". Optional
// variables left out render empty. The
// subject is one line (line breaks become spaces); the HTML is escaped
// by html/template and wrapped in the brand's layout.
func (c *CompiledEmail) Render(vars map[string]string, o EmailOptions) (RenderedEmail, error) {
	data := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if _, ok := c.vars[k]; !ok {
			return RenderedEmail{}, whitelabel.Invalid("variables."+k, "unknown variable %q for %s (allowed: %s)", k, c.name, strings.Join(slices.Sorted(maps.Keys(c.vars)), ", "))
		}
		if len([]rune(vars[k])) > maxVariableRunes {
			return RenderedEmail{}, whitelabel.Invalid("variables."+k, "variable %q is longer than %d characters", k, maxVariableRunes)
		}
		data[k] = vars[k]
	}
	for _, k := range slices.Sorted(maps.Keys(c.vars)) {
		if _, ok := data[k]; c.vars[k] && !ok {
			return RenderedEmail{}, whitelabel.Invalid("variables."+k, "missing variable %q for %s", k, c.name)
		}
	}
	b := o.Brand.normalized()
	data[brandName] = b.Name
	if data[brandName] == "" {
		data[brandName] = o.SiteName
	}
	data[supportEmail] = b.Value("email.support_email")
	var out RenderedEmail
	var buf bytes.Buffer
	if err := c.subject.Execute(&buf, data); err != nil {
		return out, whitelabel.Invalid("subject", "subject template: %s", cleanTemplateError(err))
	}
	out.Subject = strings.Join(strings.Fields(buf.String()), " ")
	buf.Reset()
	if err := c.text.Execute(&buf, data); err != nil {
		return out, whitelabel.Invalid("text", "text template: %s", cleanTemplateError(err))
	}
	out.Text = buf.String()
	if f := b.Value("email.footer"); f != "" {
		out.Text += "\n--\n" + f + "\n"
	}
	buf.Reset()
	if err := c.html.Execute(&buf, data); err != nil {
		return out, whitelabel.Invalid("html", "html template: %s", cleanTemplateError(err))
	}
	logo := b.Value("logo.primary")
	if strings.HasPrefix(logo, assetPathBase) {
		if o.AssetBase == "" {
			logo = ""
		} else {
			logo = strings.TrimSuffix(o.AssetBase, "/") + logo
		}
	}
	primary := b.Effective("colors.primary")
	var page bytes.Buffer
	err := emailLayout.Execute(&page, emailLayoutData{
		Subject:   out.Subject,
		BrandName: data[brandName],
		Logo:      logo,
		Primary:   htmltemplate.CSS(primary),
		OnPrimary: htmltemplate.CSS(contrastText(primary)),
		Text:      htmltemplate.CSS(b.Effective("colors.text")),
		Font:      htmltemplate.CSS(b.Effective("typography.font_family_primary")),
		Content:   htmltemplate.HTML(buf.String()), // escaped by c.html above
		Footer:    b.Value("email.footer"),
		Support:   data[supportEmail],
	})
	if err != nil {
		return out, err
	}
	out.HTML = page.String()
	return out, nil
}

type emailLayoutData struct {
	Subject, BrandName, Logo       string
	Primary, OnPrimary, Text, Font htmltemplate.CSS // validated brand values
	Content                        htmltemplate.HTML
	Footer, Support                string
}

var emailLayout = htmltemplate.Must(htmltemplate.New("email").Parse(`<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title>
<style>
a.button { background-color: {{.Primary}}; color: {{.OnPrimary}}; padding: 10px 18px; border-radius: 4px; text-decoration: none; display: inline-block; }
</style>
</head>
<body style="margin:0;padding:0;background-color:#f6f7f9;font-family:{{.Font}};color:{{.Text}}">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background-color:#ffffff">
<tr><td style="background-color:{{.Primary}};color:{{.OnPrimary}};padding:16px 24px;font-weight:600">{{if .Logo}}<img src="{{.Logo}}" alt="{{.BrandName}}" height="32" style="vertical-align:middle">{{else}}{{.BrandName}}{{end}}</td></tr>
<tr><td style="padding:24px">{{.Content}}</td></tr>
<tr><td style="padding:16px 24px;font-size:12px;color:#6b7080">{{with .Footer}}{{.}}<br>{{end}}{{with .Support}}Questions? <a href="mailto:{{.}}">{{.}}</a>{{end}}</td></tr>
</table>
</td></tr></table>
</body>
</html>
`))
