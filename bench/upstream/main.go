// Command upstream is the benchmark's stand-in core app: it answers
// /small with a 200-byte HTML page and /large with a 100 KiB one, on
// keep-alive connections, doing as little work as possible.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Page returns an HTML page of exactly n bytes with a <head>.
func page(n int) []byte {
	head := "<!doctype html><html><head><title>bench</title></head><body><p>"
	tail := "</p></body></html>\n"
	fill := n - len(head) - len(tail)
	if fill < 0 {
		fill = 0
	}
	return []byte(head + strings.Repeat("x", fill) + tail)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18000", "listen address")
	flag.Parse()
	small, large := page(200), page(100<<10)
	serve := func(b []byte) http.HandlerFunc {
		n := strconv.Itoa(len(b))
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/html; charset=utf-8"}
			h["Content-Length"] = []string{n}
			w.Write(b)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/small", serve(small))
	mux.Handle("/large", serve(large))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println("upstream listening on", *addr)
	log.Fatal(srv.ListenAndServe())
}
