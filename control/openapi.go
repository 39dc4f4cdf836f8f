package control

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// openAPIDocument builds the OpenAPI 3.1 document from the route table,
// the same table the mux is built from, so the two cannot drift. Only the
// component schemas (componentSchemas) are written by hand.
func (s *Server) openAPIDocument() map[string]any {
	var schemas map[string]any
	if err := json.Unmarshal([]byte(componentSchemas), &schemas); err != nil {
		panic("control: component schemas: " + err.Error()) // a test parses them
	}
	if err := json.Unmarshal([]byte(brandingSchemas), &schemas); err != nil {
		panic("control: branding schemas: " + err.Error())
	}
	if err := json.Unmarshal([]byte(domainSchemas), &schemas); err != nil {
		panic("control: domain schemas: " + err.Error())
	}
	if err := json.Unmarshal([]byte(ssoSchemas), &schemas); err != nil {
		panic("control: sso schemas: " + err.Error())
	}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
			"x-auth":      rt.Auth.String(),
		}
		switch rt.Auth {
		case authPublic:
			op["security"] = []any{}
		case authAny:
			op["security"] = []any{map[string]any{"apiKey": []string{}}, map[string]any{"adminToken": []string{}}}
		case authAdmin:
			op["security"] = []any{map[string]any{"adminToken": []string{}}}
		case authPartner:
			op["security"] = []any{map[string]any{"apiKey": []string{}}}
		}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			schema := map[string]any{"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
			if m[1] == "id" {
				schema = map[string]any{"type": "integer", "minimum": 1}
			}
			if m[1] == "domain" {
				schema = map[string]any{"type": "string", "maxLength": 253}
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema})
		}
		params = append(params, queryParams(rt)...)
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Request != "" {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{requestMediaType(rt): map[string]any{"schema": ref(rt.Request)}},
			}
		}
		okBody := map[string]any{"description": http.StatusText(rt.Status)}
		if mt, ok := rawResponses[rt.Response]; ok {
			okBody["content"] = map[string]any{mt: map[string]any{"schema": ref(rt.Response)}}
		} else if rt.Response != "" {
			okBody["content"] = map[string]any{"application/json": map[string]any{"schema": ref(rt.Response)}}
		} else {
			okBody["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(rt.Status): okBody,
			"default":               map[string]any{"$ref": "#/components/responses/Error"},
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "White-label control API",
			"version":     "1.0.0",
			"description": "Partners manage their tenants with X-API-Key; operators use X-Admin-Token. Tenant responses carry a strong ETag (the version); send it in If-Match to make a change conditional (412 on mismatch). Errors are {\"error\":{\"code\",\"message\",\"field\"}}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"apiKey":     map[string]any{"type": "apiKey", "in": "header", "name": headerAPIKey},
				"adminToken": map[string]any{"type": "apiKey", "in": "header", "name": headerAdminToken},
			},
			"responses": map[string]any{
				"Error": map[string]any{
					"description": "An error; the code is machine-readable.",
					"content":     map[string]any{"application/json": map[string]any{"schema": ref("Error")}},
				},
			},
		},
	}
}

// requestMediaType is the media type of rt's request body.
func requestMediaType(rt route) string {
	if multipartRequests[rt.Request] {
		return "multipart/form-data"
	}
	return "application/json"
}

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// operationID derives a stable ID such as "get_tenants_id_features".
func operationID(rt route) string {
	p := strings.TrimPrefix(rt.Path, BasePath)
	p = strings.NewReplacer("{", "", "}", "", "-", "_", ".", "_").Replace(p)
	parts := []string{strings.ToLower(rt.Method)}
	for _, seg := range strings.Split(p, "/") {
		if seg != "" {
			parts = append(parts, seg)
		}
	}
	return strings.Join(parts, "_")
}

func queryParams(rt route) []any {
	q := func(name, typ, desc string) any {
		return map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": map[string]any{"type": typ}}
	}
	switch {
	case rt.Method == "GET" && rt.Path == BasePath+"/tenants":
		return []any{
			q("status", "string", "only tenants in this status"),
			q("partner_id", "integer", "admin only: one partner's tenants"),
			q("limit", "integer", "page size, 1–200 (default 50)"),
			q("cursor", "string", "next_cursor of the previous page"),
		}
	case rt.Method == "GET" && rt.Path == BasePath+"/tenants/{id}/usage":
		return []any{
			q("from", "string", "start, RFC 3339, inclusive (required)"),
			q("to", "string", "end, RFC 3339, exclusive (required)"),
			q("granularity", "string", "minute (at most 1 day), hour (31 days, default) or day (366 days); UTC buckets"),
		}
	case rt.Method == "GET" && rt.Path == BasePath+"/audit":
		return []any{
			q("tenant_id", "integer", "only entries about this tenant"),
			q("partner_id", "integer", "admin only: one partner's entries"),
			q("limit", "integer", "page size, 1–200 (default 100)"),
			q("cursor", "string", "next_cursor of the previous page"),
		}
	}
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	s.openAPIOnce.Do(func() {
		s.openAPIJSON, _ = json.MarshalIndent(s.openAPIDocument(), "", "  ")
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(s.openAPIJSON)
	return err
}

// componentSchemas are the hand-written JSON Schemas the route table
// refers to by name.
const componentSchemas = `{
  "Error": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
      "code": {"type": "string", "enum": ["invalid_input","unauthorized","forbidden","not_found","method_not_allowed","conflict","invalid_transition","gone","precondition_failed","payload_too_large","unsupported_media_type","rate_limited","quota_exceeded","internal","unavailable"]},
      "message": {"type": "string"},
      "field": {"type": "string"},
      "request_id": {"type": "string"}}}}
  },
  "Health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}}},
  "TenantStatus": {"type": "string", "enum": ["provisioning", "active", "suspended", "maintenance", "deactivated"]},
  "Flags": {"type": "object", "additionalProperties": {"type": ["boolean", "number", "string"]}},
  "Quotas": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
  "BrandConfig": {
    "type": "object", "additionalProperties": false,
    "properties": {"name": {}, "colors": {"type": "object"}, "typography": {"type": "object"}, "layout": {"type": "object"},
      "logo": {}, "favicon": {}, "email": {"type": "object"}, "inject": {}}
  },
  "TenantCreate": {
    "type": "object", "additionalProperties": false, "required": ["name", "subdomain", "contact_email"],
    "properties": {
      "name": {"type": "string", "maxLength": 200, "description": "display name"},
      "display_name": {"type": "string", "maxLength": 200, "description": "alias of name"},
      "subdomain": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", "description": "DNS label, 3–63 characters, not reserved"},
      "contact_email": {"type": "string", "format": "email"},
      "plan": {"type": "string", "default": "basic"},
      "feature_flags": {"$ref": "#/components/schemas/Flags"},
      "resource_quotas": {"$ref": "#/components/schemas/Quotas"},
      "brand_config": {"$ref": "#/components/schemas/BrandConfig"},
      "tenant_key": {"type": "string", "description": "defaults to the subdomain"},
      "organization_id": {"type": "integer", "minimum": 1},
      "partner_id": {"type": "integer", "description": "required for admins; partners create for themselves"},
      "activate": {"type": "boolean", "default": true, "description": "false keeps the tenant provisioning until a status change"}
    }
  },
  "TenantPatch": {
    "type": "object", "additionalProperties": false,
    "properties": {"name": {"type": "string"}, "display_name": {"type": "string"}, "contact_email": {"type": "string", "format": "email"}, "plan": {"type": "string"}}
  },
  "StatusChange": {
    "type": "object", "additionalProperties": false, "required": ["status"],
    "properties": {"status": {"$ref": "#/components/schemas/TenantStatus"}, "reason": {"type": "string", "maxLength": 1000}}
  },
  "Tenant": {
    "type": "object",
    "properties": {
      "id": {"type": "integer"}, "partner_id": {"type": "integer"}, "organization_id": {"type": "integer"},
      "tenant_key": {"type": "string"}, "display_name": {"type": "string"}, "name": {"type": "string"},
      "subdomain": {"type": "string"}, "hostname": {"type": "string"}, "contact_email": {"type": "string"},
      "plan": {"type": "string"}, "status": {"$ref": "#/components/schemas/TenantStatus"},
      "brand_config": {"type": "object"}, "feature_flags": {"$ref": "#/components/schemas/Flags"},
      "resource_quotas": {"$ref": "#/components/schemas/Quotas"},
      "features": {"$ref": "#/components/schemas/Flags"}, "enabled_features": {"type": "array", "items": {"type": "string"}},
      "quotas": {"$ref": "#/components/schemas/Quotas"},
      "activation": {"type": "string", "enum": ["automatic", "manual"], "description": "on create only"},
      "active_after": {"type": "string", "format": "date-time", "description": "on create with automatic activation"},
      "version": {"type": "integer", "description": "also the ETag"},
      "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}
    }
  },
  "TenantList": {
    "type": "object",
    "properties": {"tenants": {"type": "array", "items": {"$ref": "#/components/schemas/Tenant"}}, "next_cursor": {"type": "string"}}
  },
  "Branding": {"type": "object", "properties": {"tenant_id": {"type": "integer"}, "brand_config": {"type": "object"}}},
  "FeatureValue": {"type": "object", "additionalProperties": false, "required": ["value"], "properties": {"value": {"type": ["boolean", "number", "string"]}}},
  "Features": {
    "type": "object",
    "properties": {"tenant_id": {"type": "integer"}, "plan": {"type": "string"},
      "features": {"type": "object", "additionalProperties": {"type": "object", "properties": {
        "value": {"type": ["boolean", "number", "string"]}, "source": {"type": "string", "enum": ["plan", "override"]}}}}}
  },
  "QuotaValue": {"type": "object", "additionalProperties": false, "required": ["value"], "properties": {"value": {"type": "integer", "minimum": 0}}},
  "QuotaList": {
    "type": "object",
    "properties": {"tenant_id": {"type": "integer"}, "plan": {"type": "string"},
      "quotas": {"type": "object", "additionalProperties": {"type": "object", "properties": {
        "limit": {"type": "integer"}, "source": {"type": "string", "enum": ["plan", "override"]},
        "used": {"type": ["integer", "null"]}, "reset": {"type": ["string", "null"]}}}}}
  },
  "UsageBucket": {
    "type": "object",
    "properties": {"start": {"type": "string", "format": "date-time"}, "requests": {"type": "integer"},
      "upstream_errors": {"type": "integer"}, "bytes_in": {"type": "integer"}, "bytes_out": {"type": "integer"},
      "p50_ms": {"type": "number"}, "p95_ms": {"type": "number"}, "p99_ms": {"type": "number"}}
  },
  "Usage": {
    "type": "object",
    "properties": {"tenant_id": {"type": "integer"}, "granularity": {"type": "string", "enum": ["minute", "hour", "day"]},
      "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
      "buckets": {"type": "array", "items": {"$ref": "#/components/schemas/UsageBucket"}},
      "total": {"$ref": "#/components/schemas/UsageBucket"}}
  },
  "PartnerCreate": {
    "type": "object", "additionalProperties": false, "required": ["name", "contact_email"],
    "properties": {"name": {"type": "string"}, "contact_email": {"type": "string", "format": "email"},
      "default_revenue_share": {"type": "number", "minimum": 0, "maximum": 100}}
  },
  "Partner": {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "contact_email": {"type": "string"},
      "default_revenue_share": {"type": "number"}, "is_active": {"type": "boolean"},
      "created_at": {"type": "string", "format": "date-time"},
      "api_keys": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "partner_id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"}}}}}
  },
  "PartnerWithKey": {
    "allOf": [{"$ref": "#/components/schemas/Partner"}, {"type": "object", "properties": {
      "api_key": {"type": "string", "description": "shown only once"}, "api_key_id": {"type": "string"}}}]
  },
  "PartnerList": {"type": "object", "properties": {"partners": {"type": "array", "items": {"$ref": "#/components/schemas/Partner"}}}},
  "KeyRotation": {
    "type": "object",
    "properties": {"partner_id": {"type": "integer"}, "api_key": {"type": "string", "description": "shown only once"},
      "api_key_id": {"type": "string"}, "old_keys_expire_at": {"type": "string", "format": "date-time"},
      "grace_period": {"type": "string"}}
  },
  "AuditEntry": {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
      "action": {"type": "string"}, "target_type": {"type": "string"}, "target_id": {"type": "string"},
      "partner_id": {"type": "integer"}, "tenant_id": {"type": "integer"}, "before": {}, "after": {},
      "request_id": {"type": "string"}, "client_addr": {"type": "string"}}
  },
  "AuditList": {
    "type": "object",
    "properties": {"entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}, "next_cursor": {"type": "string"}}
  }
}`
