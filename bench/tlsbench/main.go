// Command tlsbench compares TLS handshake throughput of the edge and Caddy
// in one run: both serve the same operator ECDSA P-256 certificate for
// *.bench.test, each pinned to CPU 0 with GOMAXPROCS=1, while this program
// (on CPU 1, see bench/proxy.sh) opens connections as fast as it can, each
// doing one handshake and one tiny HTTP/1.1 request (/_edge/healthz on the
// edge, a static "ok" on Caddy). Two modes: full handshakes (no session
// cache) and resumed ones (TLS 1.3 tickets). Three repetitions interleaved;
// medians with min–max.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/estatecore/whitelabel/bench/internal/benchproc"
)

type target struct {
	name, addr, path string
	cmd              *exec.Cmd
}

func main() {
	bin := flag.String("bin", "bin/bench", "directory with edge, seed and caddy binaries")
	dur := flag.Duration("d", 5*time.Second, "duration per run")
	reps := flag.Int("reps", 3, "repetitions")
	workers := flag.Int("c", 32, "concurrent connections")
	flag.Parse()
	var work string
	var cleanup func()
	*bin, work, cleanup = benchproc.Dirs(*bin, "", "tlsbench")
	defer cleanup()
	certFile, keyFile := writeCert(work)

	var procs benchproc.Procs
	defer procs.StopAll()
	start := func(env []string, name string, args ...string) *exec.Cmd {
		// Caddy logs every start and stop as JSON; only the edge's
		// warnings are worth showing.
		var stderr io.Writer
		if strings.HasSuffix(name, "/edge") {
			stderr = os.Stderr
		}
		return procs.Start(stderr, env, "taskset", append([]string{"-c", "0", name}, args...)...)
	}
	benchproc.Run(true, *bin+"/seed", "-db", work+"/bench.db", "-n", "100")
	edge := start([]string{
		"GOMAXPROCS=1", "DATABASE_URL=" + work + "/bench.db", "BASE_DOMAIN=bench.test",
		"EDGE_ADDR=127.0.0.1:18180", "EDGE_TLS_ADDR=127.0.0.1:18443", "UPSTREAM_URL=http://127.0.0.1:18000",
		"METRICS_ADDR=", "SNAPSHOT_PATH=", "LOG_LEVEL=warn", "TLS_CERT_FILE=" + certFile, "TLS_KEY_FILE=" + keyFile,
		"CERT_STORAGE_DIR=" + work + "/certs", "ACME_DIRECTORY=https://127.0.0.1:1/directory",
	}, *bin+"/edge")
	caddyfile := work + "/Caddyfile"
	os.WriteFile(caddyfile, []byte(fmt.Sprintf(`{
	admin off
	auto_https disable_redirects
	persist_config off
	storage file_system %s/caddy
}
https://*.bench.test:18444 {
	tls %s %s
	respond "ok"
}
`, work, certFile, keyFile)), 0o644)
	caddy := start([]string{"GOMAXPROCS=1", "XDG_DATA_HOME=" + work, "XDG_CONFIG_HOME=" + work}, *bin+"/caddy", "run", "--config", caddyfile, "--adapter", "caddyfile")
	targets := []*target{
		{name: "edge", addr: "127.0.0.1:18443", path: "/_edge/healthz", cmd: edge},
		{name: "caddy", addr: "127.0.0.1:18444", path: "/", cmd: caddy},
	}
	for _, t := range targets {
		waitTLS(t)
	}

	type key struct{ target, mode string }
	res := map[key][]float64{}
	modes := []string{"full", "resumed"}
	for _, m := range modes {
		for _, t := range targets {
			measure(t, m == "resumed", *workers, time.Second) // warm-up
		}
		for r := 0; r < *reps; r++ {
			for _, t := range targets {
				res[key{t.name, m}] = append(res[key{t.name, m}], measure(t, m == "resumed", *workers, *dur))
			}
		}
	}
	fmt.Printf("\nTLS benchmark: ECDSA P-256 certificate, %d connections, %s per run, %d repetitions interleaved\n", *workers, *dur, *reps)
	fmt.Printf("servers pinned to CPU 0 with GOMAXPROCS=1; client on CPU 1; each connection = handshake + one tiny request\n\n")
	fmt.Printf("%-8s %-7s %-28s %-8s\n", "mode", "server", "connections/s", "RSS MB")
	for _, m := range modes {
		for _, t := range targets {
			v := res[key{t.name, m}]
			slices.Sort(v)
			fmt.Printf("%-8s %-7s %-28s %-8.1f\n", m, t.name, fmt.Sprintf("%.0f (%.0f–%.0f)", v[len(v)/2], v[0], v[len(v)-1]), rss(t.cmd.Process.Pid))
		}
	}
	fmt.Println()
	for _, m := range modes {
		e, c := res[key{"edge", m}], res[key{"caddy", m}]
		fmt.Printf("%-8s edge/caddy %.2f×\n", m, e[len(e)/2]/c[len(c)/2])
	}
}

// writeCert makes a self-signed ECDSA P-256 certificate for *.bench.test.
func writeCert(dir string) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "*.bench.test"},
		DNSNames: []string{"*.bench.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cf, kf
}

func clientConfig(resume bool) *tls.Config {
	c := &tls.Config{ServerName: "t00050.bench.test", InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if resume {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	return c
}

// once opens one connection, does one request and reports whether it
// succeeded and was resumed.
func once(t *target, cfg *tls.Config) (ok, resumed bool) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(&d, "tcp", t.addr, cfg)
	if err != nil {
		return false, false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: t00050.bench.test\r\nConnection: close\r\n\r\n", t.path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return false, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200, conn.ConnectionState().DidResume
}

func waitTLS(t *target) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := once(t, clientConfig(false)); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("%s does not answer TLS on %s", t.name, t.addr)
}

func measure(t *target, resume bool, workers int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var okN, resumedN, failN atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := clientConfig(resume)
			for ctx.Err() == nil {
				ok, res := once(t, cfg)
				switch {
				case !ok:
					failN.Add(1)
				case res:
					resumedN.Add(1)
					okN.Add(1)
				default:
					okN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if failN.Load() > 0 {
		log.Printf("warning: %s: %d failed connections", t.name, failN.Load())
	}
	if resume && resumedN.Load() < okN.Load()*9/10 {
		log.Printf("warning: %s: only %d of %d connections resumed", t.name, resumedN.Load(), okN.Load())
	}
	if !resume && resumedN.Load() > 0 {
		log.Printf("warning: %s: %d connections resumed in full mode", t.name, resumedN.Load())
	}
	return float64(okN.Load()) / el
}

func rss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb float64
			fmt.Sscan(strings.Fields(l)[1], &kb)
			return kb / 1024
		}
	}
	return 0
}
