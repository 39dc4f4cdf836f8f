// Command proxybench measures the edge against the direct upstream, Caddy
// and nginx in one run, with one method so the figures compare: the proxy
// under test pinned to CPU 0 (GOMAXPROCS=1 for Go proxies), wrk and the
// upstream on CPU 1, `wrk -t1 -c64 -d10s --latency` after a warm-up, three
// repetitions interleaved, medians with min–max. It prints requests/s, p50,
// p99, RSS and the proxy's CPU (busy share of its CPU, CPU µs per request)
// for each, then the ratios edge/Caddy, edge/nginx and
// edge/upstream, and each goal of the issues with its verdict (ratios
// of two targets taken within each repetition, then their median).
//
// The edge is measured as production runs it (local rate limits and
// bandwidth quota decided on every request, theme injected into the HTML)
// on tenant t05000, and on the same process against two baseline tenants
// bench/seed makes: nolimit (no rate, monthly or bandwidth quota, so no
// decision) and noinject (injection off in its brand). Their ratios are
// the cost of limits and of injection. A second edge process with
// RATE_LIMIT_BACKEND=redis, on a redis-server of its own pinned to CPU 1,
// gives the cost of the fleet-wide limits the same way (edge-redis on
// t05000 against edge-redis-off on nolimit). edge-nolimit against
// edge-redis-off, the same work on two processes, is printed as the noise
// floor: on a noisy machine its spread shows how far a ratio moves with
// nothing changed. A run with any non-2xx answer is an error, not a
// figure.
//
// bench/proxy.sh installs wrk, nginx and Caddy and builds the binaries it
// needs; run it through `make bench-proxy`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel/bench/internal/benchproc"
)

type target struct {
	name string
	url  string // base URL
	host string // Host header
	cmd  *exec.Cmd
}

// sample is one wrk run: requests/s, latency percentiles in ms, and the
// proxy process's resident memory and CPU (busy: share of one CPU over
// the run, cpuUS: CPU µs per request). Busy tells whether the proxy was
// the bottleneck: under 100 % it waited for something else.
type sample struct{ rps, p50, p99, rssMB, busy, cpuUS float64 }

func main() {
	bin := flag.String("bin", "bin/bench", "directory with edge, upstream, seed and caddy binaries")
	work := flag.String("work", "", "scratch directory (default: a new temp dir)")
	dur := flag.Duration("d", 10*time.Second, "wrk duration per run")
	reps := flag.Int("reps", 3, "repetitions")
	tenants := flag.Int("tenants", 10000, "tenants in the edge's snapshot")
	skip := flag.String("skip", "", "comma-separated targets to leave out (caddy,nginx)")
	flag.Parse()
	var cleanup func()
	*bin, *work, cleanup = benchproc.Dirs(*bin, *work, "proxybench")
	defer cleanup()

	var procs benchproc.Procs
	defer procs.StopAll()
	// start runs name on cpu; its stderr goes to ours, or to the file
	// logTo when that is set.
	logTo := ""
	start := func(cpu string, env []string, name string, args ...string) *exec.Cmd {
		var stderr io.Writer = os.Stderr
		if logTo != "" {
			f := benchproc.LogFile(logTo)
			defer f.Close()
			stderr, logTo = f, ""
		}
		return procs.Start(stderr, env, "taskset", append([]string{"-c", cpu, name}, args...)...)
	}

	benchproc.Run(false, *bin+"/seed", "-db", *work+"/bench.db", "-n", strconv.Itoa(*tenants))
	start("1", nil, *bin+"/upstream", "-addr", "127.0.0.1:18000")
	benchproc.MustWaitPort("127.0.0.1:18000")

	targets := []*target{{name: "upstream", url: "http://127.0.0.1:18000"}}
	edge := start("0", []string{
		"GOMAXPROCS=1", "DATABASE_URL=" + *work + "/bench.db", "BASE_DOMAIN=bench.test",
		"EDGE_ADDR=127.0.0.1:18080", "UPSTREAM_URL=http://127.0.0.1:18000",
		"METRICS_ADDR=127.0.0.1:18090", "LOG_LEVEL=warn",
	}, *bin+"/edge", "-snapshot-path=") // an empty SNAPSHOT_PATH would mean the default
	benchproc.MustWaitPort("127.0.0.1:18080")
	targets = append(targets,
		&target{name: "edge", url: "http://127.0.0.1:18080", host: "t05000.bench.test", cmd: edge},
		&target{name: "edge-nolimit", url: "http://127.0.0.1:18080", host: "nolimit.bench.test", cmd: edge},
		&target{name: "edge-noinject", url: "http://127.0.0.1:18080", host: "noinject.bench.test", cmd: edge},
	)

	// The same edge with RATE_LIMIT_BACKEND=redis, on a Redis of its own
	// pinned with the upstream: its t05000/nolimit ratio is the cost of
	// the shared limits.
	if redisServer, err := exec.LookPath("redis-server"); err == nil && !strings.Contains(*skip, "redis") {
		start("1", nil, redisServer, "--port", "18379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", *work)
		benchproc.MustWaitPort("127.0.0.1:18379")
		er := start("0", []string{
			"GOMAXPROCS=1", "DATABASE_URL=" + *work + "/bench.db", "BASE_DOMAIN=bench.test",
			"EDGE_ADDR=127.0.0.1:18083", "UPSTREAM_URL=http://127.0.0.1:18000",
			"METRICS_ADDR=127.0.0.1:18091", "LOG_LEVEL=warn",
			"RATE_LIMIT_BACKEND=redis", "REDIS_URL=redis://127.0.0.1:18379/0",
		}, *bin+"/edge", "-snapshot-path=")
		benchproc.MustWaitPort("127.0.0.1:18083")
		targets = append(targets,
			&target{name: "edge-redis", url: "http://127.0.0.1:18083", host: "t05000.bench.test", cmd: er},
			&target{name: "edge-redis-off", url: "http://127.0.0.1:18083", host: "nolimit.bench.test", cmd: er},
		)
	} else if err != nil {
		log.Printf("no redis-server (%v): the Redis-limited edge is left out", err)
	}

	if !strings.Contains(*skip, "caddy") {
		caddyfile := *work + "/Caddyfile"
		os.WriteFile(caddyfile, []byte("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}\n:18081 {\n\treverse_proxy 127.0.0.1:18000\n}\n"), 0o644)
		logTo = *work + "/caddy.log" // Caddy logs every connection wrk drops at the end of a run
		c := start("0", []string{"GOMAXPROCS=1", "XDG_DATA_HOME=" + *work, "XDG_CONFIG_HOME=" + *work}, *bin+"/caddy", "run", "--config", caddyfile, "--adapter", "caddyfile")
		benchproc.MustWaitPort("127.0.0.1:18081")
		targets = append(targets, &target{name: "caddy", url: "http://127.0.0.1:18081", cmd: c})
	}
	if !strings.Contains(*skip, "nginx") {
		conf := *work + "/nginx.conf"
		os.WriteFile(conf, []byte(fmt.Sprintf(`worker_processes 1;
daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
  upstream up { server 127.0.0.1:18000; keepalive 64; }
  server {
    listen 127.0.0.1:18082;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, *work)), 0o644)
		nginx, _ := exec.LookPath("nginx")
		if nginx == "" {
			nginx = "/usr/sbin/nginx"
		}
		c := start("0", nil, nginx, "-c", conf, "-p", *work)
		benchproc.MustWaitPort("127.0.0.1:18082")
		targets = append(targets, &target{name: "nginx", url: "http://127.0.0.1:18082", cmd: c})
	}

	// Every proxy must serve the page before anything is measured.
	for _, t := range targets {
		if err := check(t); err != nil {
			log.Fatalf("%s: %v", t.name, err)
		}
	}

	results := map[string][]sample{} // "target/size"
	for _, size := range []string{"small", "large"} {
		for _, t := range targets {
			wrk(t, size, 2*time.Second) // warm-up
		}
		for r := 0; r < *reps; r++ {
			for _, t := range targets {
				var cpu0 time.Duration
				if t.cmd != nil {
					cpu0 = cpuTime(t.cmd.Process.Pid)
				}
				s := wrk(t, size, *dur)
				if t.cmd != nil {
					s.rssMB = rss(t.cmd.Process.Pid)
					cpu := cpuTime(t.cmd.Process.Pid) - cpu0
					s.busy = 100 * cpu.Seconds() / dur.Seconds()
					if s.rps > 0 {
						s.cpuUS = float64(cpu.Microseconds()) / (s.rps * dur.Seconds())
					}
				}
				results[t.name+"/"+size] = append(results[t.name+"/"+size], s)
			}
		}
	}

	fmt.Printf("\nproxy benchmark: wrk -t1 -c64 -d%s --latency, %d repetitions interleaved, %d tenants in the edge snapshot\n", *dur, *reps, *tenants)
	fmt.Printf("proxies pinned to CPU 0 (GOMAXPROCS=1 for Go), wrk and upstream on CPU 1; medians (min–max)\n\n")
	fmt.Printf("%-7s %-14s %-26s %-8s %-8s %-7s %-6s %-8s\n", "size", "target", "requests/s", "p50 ms", "p99 ms", "RSS MB", "CPU %", "CPU µs/req")
	med := map[string]sample{}
	for _, size := range []string{"small", "large"} {
		label := map[string]string{"small": "200 B", "large": "100 KiB"}[size]
		for _, t := range targets {
			ss := results[t.name+"/"+size]
			m := sample{
				rps: median(ss, func(s sample) float64 { return s.rps }), p50: median(ss, func(s sample) float64 { return s.p50 }),
				p99: median(ss, func(s sample) float64 { return s.p99 }), rssMB: median(ss, func(s sample) float64 { return s.rssMB }),
				busy: median(ss, func(s sample) float64 { return s.busy }), cpuUS: median(ss, func(s sample) float64 { return s.cpuUS }),
			}
			med[t.name+"/"+size] = m
			lo, hi := minmax(ss)
			rssStr, busyStr, cpuStr := "-", "-", "-"
			if t.cmd != nil {
				rssStr = fmt.Sprintf("%.1f", m.rssMB)
				busyStr = fmt.Sprintf("%.0f", m.busy)
				cpuStr = fmt.Sprintf("%.1f", m.cpuUS)
			}
			fmt.Printf("%-7s %-14s %-26s %-8.2f %-8.2f %-7s %-6s %-8s\n", label, t.name, fmt.Sprintf("%.0f (%.0f–%.0f)", m.rps, lo, hi), m.p50, m.p99, rssStr, busyStr, cpuStr)
		}
	}
	fmt.Println()
	for _, size := range []string{"small", "large"} {
		e := med["edge/"+size]
		for _, other := range []string{"caddy", "nginx", "upstream"} {
			o, ok := med[other+"/"+size]
			if !ok || o.rps == 0 {
				continue
			}
			fmt.Printf("%-6s edge/%-13s throughput %.2f×   p99 %.2f×\n", size, other, e.rps/o.rps, e.p99/o.p99)
		}
	}
	// The issues' goals, each a throughput ratio of two targets measured
	// in this run.
	fmt.Println("\ngoals (throughput ratios, median of the repetitions' ratios, min–max):")
	// A ratio is taken within each repetition, where the two targets ran
	// one after the other, and the median of those is reported: slow drift
	// of the machine cancels out of a pair.
	// ratioOf returns the median of a/b over the repetitions and the
	// sorted ratios; nil when either target was not measured.
	ratioOf := func(size, a, b string) (float64, []float64) {
		xs, ys := results[a+"/"+size], results[b+"/"+size]
		if len(xs) == 0 || len(xs) != len(ys) {
			return 0, nil
		}
		ratios := make([]float64, len(xs))
		for i := range xs {
			ratios[i] = xs[i].rps / ys[i].rps
		}
		return medianOf(ratios), ratios // medianOf sorts ratios
	}
	goal := func(what, size, a, b string, want float64) {
		r, ratios := ratioOf(size, a, b)
		if ratios == nil {
			return
		}
		verdict := "met"
		if r < want {
			verdict = "NOT met"
		}
		fmt.Printf("  %-24s %-6s %s/%s = %.2f (%.2f–%.2f; goal ≥ %.2f) %s\n", what, size, a, b, r, ratios[0], ratios[len(ratios)-1], want, verdict)
	}
	goal("edge vs Caddy", "small", "edge", "caddy", 1.5)
	goal("edge vs nginx", "large", "edge", "nginx", 1.0)
	for _, size := range []string{"small", "large"} {
		goal("local limits on vs off", size, "edge", "edge-nolimit", 0.95)
		goal("Redis limits on vs off", size, "edge-redis", "edge-redis-off", 0.80)
	}
	goal("injection on vs off", "large", "edge", "edge-noinject", 0.9)
	// The same work on the two edge processes (neither tenant has a
	// quota): its spread is this machine's noise, against which a goal a
	// few percent from 1 can be judged.
	for _, size := range []string{"small", "large"} {
		if r, ratios := ratioOf(size, "edge-nolimit", "edge-redis-off"); ratios != nil {
			fmt.Printf("  %-24s %-6s edge-nolimit/edge-redis-off = %.2f (%.2f–%.2f; the same work: ideally 1)\n", "noise floor", size, r, ratios[0], ratios[len(ratios)-1])
		}
	}
	if c, e := med["caddy/small"], med["edge/small"]; c.p99 > 0 {
		verdict := "met"
		if e.p99 > c.p99 {
			verdict = "NOT met"
		}
		fmt.Printf("  %-24s %-6s edge p99 %.2f ms, Caddy p99 %.2f ms (goal: at or below) %s\n", "p99 vs Caddy", "small", e.p99, c.p99, verdict)
	}
}

func check(t *target) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", t.url+"/small", nil)
	if t.host != "" {
		req.Host = t.host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte("<html>")) {
		return fmt.Errorf("GET /small = %d %q", resp.StatusCode, b)
	}
	return nil
}

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latRE = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)`)
)

func wrk(t *target, size string, d time.Duration) sample {
	args := []string{"-c", "1", "wrk", "-t1", "-c64", "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	if t.host != "" {
		args = append(args, "-H", "Host: "+t.host)
	}
	args = append(args, t.url+"/"+size)
	out, err := exec.Command("taskset", args...).CombinedOutput()
	if err != nil {
		log.Fatalf("wrk %s: %v\n%s", t.name, err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		log.Fatalf("%s %s: %s", t.name, size, firstLines(out))
	}
	if bytes.Contains(out, []byte("Socket errors")) {
		log.Printf("warning: %s %s: %s", t.name, size, firstLines(out))
	}
	var s sample
	if m := rpsRE.FindSubmatch(out); m != nil {
		s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range latRE.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	return s
}

func firstLines(b []byte) string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "Non-2xx") || strings.Contains(l, "Socket errors") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "; ")
}

// cpuTime returns the CPU time (user and system) used so far by the
// process pid and its descendants (nginx's worker), or 0 when it cannot
// be read. /proc counts in clock ticks, USER_HZ, which is 100 on Linux.
func cpuTime(pid int) time.Duration {
	const userHZ = 100
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	total := time.Duration(utime+stime) * time.Second / userHZ
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		// The process was there a moment ago: the kernel lacks
		// CONFIG_PROC_CHILDREN, and nginx's worker is not counted.
		childrenWarning.Do(func() { log.Printf("warning: %v: the CPU of child processes is left out", err) })
	}
	for _, c := range strings.Fields(string(children)) {
		if cp, err := strconv.Atoi(c); err == nil {
			total += cpuTime(cp)
		}
	}
	return total
}

// childrenWarning makes cpuTime warn once.
var childrenWarning sync.Once

func rss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// median returns the median of f over ss.
func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return medianOf(v)
}

// medianOf sorts v and returns its median (0 when v is empty).
func medianOf(v []float64) float64 {
	slices.Sort(v)
	switch n := len(v); {
	case n == 0:
		return 0
	case n%2 == 0:
		return (v[n/2-1] + v[n/2]) / 2
	default:
		return v[n/2]
	}
}

func minmax(ss []sample) (float64, float64) {
	lo, hi := ss[0].rps, ss[0].rps
	for _, s := range ss {
		lo, hi = min(lo, s.rps), max(hi, s.rps)
	}
	return lo, hi
}
