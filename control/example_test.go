package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/estatecore/whitelabel/control"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// ExampleNew serves the API on an embedded store, creates a partner with
// the admin token and a tenant with the partner's key.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, _ := os.MkdirTemp("", "control-example")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "wl.db"), Migrate: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	srv, err := control.New(control.Config{
		Store:      st,
		AdminToken: "s3cret",
		BaseDomain: "estatecore.com",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Run(ctx)
	hs := httptest.NewServer(srv)
	defer hs.Close()

	post := func(path, header, value, body string) *http.Response {
		req, _ := http.NewRequest("POST", hs.URL+control.BasePath+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(header, value)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return res
	}
	res := post("/partners", "X-Admin-Token", "s3cret", `{"name":"Initial Partner","contact_email":"partner@example.com"}`)
	var p struct {
		APIKey string `json:"api_key"`
	}
	decode(res, &p)
	fmt.Println("partner:", res.Status)

	res = post("/tenants", "X-API-Key", p.APIKey, `{"name":"New Client","subdomain":"newclient","contact_email":"admin@newclient.com"}`)
	var t struct {
		Hostname   string `json:"hostname"`
		Status     string `json:"status"`
		Activation string `json:"activation"`
	}
	decode(res, &t)
	fmt.Println("tenant:", res.Status, t.Hostname, t.Status, t.Activation)
	// Output:
	// partner: 201 Created
	// tenant: 201 Created newclient.estatecore.com provisioning automatic
}

func decode(res *http.Response, v any) {
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		panic(err)
	}
}
