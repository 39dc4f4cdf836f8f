package control

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estatecore/whitelabel"
)

type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	Summary     string                     `json:"summary"`
	Auth        string                     `json:"x-auth"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

func fetchOpenAPI(t *testing.T, e *env) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(e.must(200, "GET", BasePath+"/openapi.json", noAuth, nil).body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes proves that every registered route is
// documented and every documented path and method is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		e := newEnv(t, st)
		doc := fetchOpenAPI(t, e)
		mustEqual(t, "openapi", doc.OpenAPI, "3.1.0")

		// Every route is documented, with its schemas defined.
		for _, rt := range e.srv.routes {
			op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
			if !ok {
				t.Errorf("route %s %s is not in the document", rt.Method, rt.Path)
				continue
			}
			if op.Summary == "" {
				t.Errorf("%s %s has no summary", rt.Method, rt.Path)
			}
			if _, ok := op.Responses[fmt.Sprint(rt.Status)]; !ok {
				t.Errorf("%s %s does not document status %d", rt.Method, rt.Path, rt.Status)
			}
			for _, s := range []string{rt.Request, rt.Response} {
				if _, ok := doc.Components.Schemas[s]; s != "" && !ok {
					t.Errorf("%s %s refers to undefined schema %s", rt.Method, rt.Path, s)
				}
			}
		}
		// Every $ref resolves.
		raw := string(e.must(200, "GET", BasePath+"/openapi.json", noAuth, nil).body)
		for _, part := range strings.Split(raw, `"#/components/schemas/`)[1:] {
			name := part[:strings.IndexByte(part, '"')]
			if _, ok := doc.Components.Schemas[name]; !ok {
				t.Errorf("dangling $ref to %s", name)
			}
		}

		// Every documented operation is served: never the router's 404 or
		// a 405, with real IDs filled in and the documented credentials.
		p := e.createPartner("doc")
		tid := idOf(e.createTenant(p, "documented", nil))
		count := 0
		for path, ops := range doc.Paths {
			for method, op := range ops {
				count++
				method = strings.ToUpper(method)
				id := fmt.Sprint(tid)
				if strings.HasPrefix(path, BasePath+"/partners/") {
					id = fmt.Sprint(p.id)
				}
				url := strings.NewReplacer("{id}", id, "{name}", "sso").Replace(path)
				a := admin
				if op.Auth == "partner" {
					a = apiKey(p.key)
				}
				var body any
				if len(op.RequestBody) > 0 {
					body = `{}`
				}
				t.Run(method+" "+path, func(t *testing.T) {
					r := e.do(method, url, a, body)
					if r.status == 405 {
						t.Fatalf("%s %s = 405: documented but not served", method, url)
					}
					if r.status == 404 {
						var b struct{ Error struct{ Message string } }
						json.Unmarshal(r.body, &b)
						if strings.HasPrefix(b.Error.Message, "no route") {
							t.Fatalf("%s %s = 404 no route: documented but not served", method, url)
						}
					}
				})
			}
		}
		if count != len(e.srv.routes) {
			t.Errorf("document has %d operations, route table %d", count, len(e.srv.routes))
		}
	})
}

// TestOpenAPIValidates checks the document against the OpenAPI 3.1
// schema with openapi-spec-validator, when it is installed.
func TestOpenAPIValidates(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import openapi_spec_validator").Run() != nil {
		t.Skip("python3 with openapi-spec-validator is not installed")
	}
	e := newEnv(t, newMemStore())
	path := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(path, e.must(200, "GET", BasePath+"/openapi.json", noAuth, nil).body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), py, "-c",
		"import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')", path).CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator: %v\n%s", err, out)
	}
}
