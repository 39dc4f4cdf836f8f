package democore

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
</head>
<body>
<main class="container">
<h1>{{.Title}}</h1>
<p>This page comes from the demo core app. The edge told it:</p>
<table>
{{range .Headers}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<p><button class="btn btn-primary">A primary button</button></p>
<p>Path: <code>{{.Path}}</code> · served at {{.Time}}</p>
</main>
</body>
</html>
`))

type header struct{ Name, Value string }

// Handler returns the demo core app: "/" and every other path render the
// page; "/api/…" answers JSON with the same headers; "/events" streams
// server-sent events.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/events", events)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		out := map[string]string{"path": r.URL.Path}
		for _, h := range tenantHeaders(r) {
			out[h.Name] = h.Value
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		title := "Core app"
		if n := r.Header.Get("X-Tenant-Key"); n != "" {
			title = "Core app for tenant " + n
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, map[string]any{
			"Title": title, "Headers": tenantHeaders(r), "Path": r.URL.Path,
			"Time": time.Now().UTC().Format(time.RFC3339),
		})
	})
	return mux
}

func tenantHeaders(r *http.Request) []header {
	var out []header
	for name, vals := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-tenant-") || strings.HasPrefix(l, "x-organization-") ||
			strings.HasPrefix(l, "x-auth-") || strings.HasPrefix(l, "x-forwarded-") || l == "x-request-id" {
			out = append(out, header{name, strings.Join(vals, ", ")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func events(w http.ResponseWriter, r *http.Request) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 0; i < 60; i++ {
		w.Write([]byte("data: tick " + time.Now().UTC().Format(time.RFC3339) + "\n\n"))
		f.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}
