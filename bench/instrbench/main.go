// Command instrbench counts the edge's user-space instructions per
// proxied request under valgrind's callgrind, for the tenants whose
// throughput bench/proxybench compares: t05000 (rate limit, monthly API
// and bandwidth quotas, theme injected), nolimit (no quota) and noinject
// (injection off). Instruction counts do not depend on what else the
// machine is doing, so the cost of a feature read from them is the same
// on a quiet machine and a noisy one, where a throughput ratio of two
// wrk runs can move by several points with nothing changed.
//
// Method: bench/seed's snapshot of 10,000 tenants; the edge (GOMAXPROCS=1,
// GOGC=off so that a collection landing in one phase does not blur it,
// asynchronous preemption off)
// under `valgrind --tool=callgrind`; -n requests for the 200 B page (-page
// large: the 100 KiB one) to each tenant in turn
// over four keep-alive connections, after a warm-up, for -rounds rounds,
// with `callgrind_control --dump` between phases. A phase's instructions
// divided by its requests is that tenant's figure; the median over the
// rounds is printed, then each feature's cost (on ÷ off), then the
// functions whose own instructions grew most between the last round's
// nolimit and t05000 phases: where the limits' instructions go.
//
// What it leaves out: the kernel's work (system calls, loopback TCP),
// which is about a third of the edge's CPU in the proxy benchmark and
// which the limits barely change; garbage collection; and the upstream.
// With -redis, the same is done for an edge with RATE_LIMIT_BACKEND=redis
// on a redis-server of its own; under callgrind that edge is about fifty
// times slower than Redis, so its pipelines hold one decision each, not
// the ten of the proxy benchmark.
//
// `make bench-instr` installs valgrind if missing and builds what it
// needs.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel/bench/internal/benchproc"
)

func main() {
	bin := flag.String("bin", "bin/bench", "directory with the edge, upstream and seed binaries")
	work := flag.String("work", "", "scratch directory (default: a new temp dir)")
	n := flag.Int("n", 5000, "requests per tenant per round")
	rounds := flag.Int("rounds", 3, "rounds")
	tenants := flag.Int("tenants", 10000, "tenants in the edge's snapshot")
	withRedis := flag.Bool("redis", false, "also measure an edge with RATE_LIMIT_BACKEND=redis")
	top := flag.Int("top", 15, "functions listed in the breakdown")
	page := flag.String("page", "small", "the upstream's page requested: small (200 B) or large (100 KiB)")
	flag.Parse()
	if *page != "small" && *page != "large" {
		log.Fatalf("-page %q: want small or large", *page)
	}
	var cleanup func()
	*bin, *work, cleanup = benchproc.Dirs(*bin, *work, "instrbench")
	defer cleanup()
	for _, tool := range []string{"valgrind", "callgrind_control"} {
		if _, err := exec.LookPath(tool); err != nil {
			log.Fatalf("%s not found: install valgrind (make bench-instr does)", tool)
		}
	}

	benchproc.Run(false, *bin+"/seed", "-db", *work+"/bench.db", "-n", strconv.Itoa(*tenants))
	var procs benchproc.Procs
	defer procs.StopAll()
	procs.Start(nil, nil, *bin+"/upstream", "-addr", "127.0.0.1:18000")
	benchproc.MustWaitPort("127.0.0.1:18000")

	env := []string{
		// Callgrind fails an assertion on the signals of Go's
		// asynchronous preemption; one goroutine at a time needs none.
		"GOMAXPROCS=1", "GOGC=off", "GODEBUG=asyncpreemptoff=1", "DATABASE_URL=" + *work + "/bench.db", "BASE_DOMAIN=bench.test",
		"EDGE_ADDR=127.0.0.1:18180", "UPSTREAM_URL=http://127.0.0.1:18000",
		"METRICS_ADDR=127.0.0.1:18190", "LOG_LEVEL=warn",
	}
	edges := []edgeRun{{name: "edge", env: env}}
	if *withRedis {
		server, err := exec.LookPath("redis-server")
		if err != nil {
			log.Fatalf("-redis: %v", err)
		}
		procs.Start(nil, nil, server, "--port", "18379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", *work)
		benchproc.MustWaitPort("127.0.0.1:18379")
		edges = append(edges, edgeRun{name: "edge-redis", env: append(slices.Clip(env), "RATE_LIMIT_BACKEND=redis", "REDIS_URL=redis://127.0.0.1:18379/0")})
	}

	fmt.Printf("user-space instructions per request for /%s under callgrind (GOMAXPROCS=1, GOGC=off), %d requests per tenant per round, %d rounds, median\n\n", *page, *n, *rounds)
	for _, e := range edges {
		res := e.measure(*bin, *work, "/"+*page, *n, *rounds)
		res.print(e.name, *n, *top)
	}
}

// tenantsMeasured are the Host names measured, the baseline first.
var tenantsMeasured = []string{"nolimit", "t05000", "noinject"}

type edgeRun struct {
	name string
	env  []string
}

// result holds, per tenant, each round's instructions per request, and
// the last round's dump file of each tenant.
type result struct {
	perReq map[string][]float64
	dump   map[string]string
}

func (e edgeRun) measure(bin, work, path string, n, rounds int) result {
	out := filepath.Join(work, e.name+".callgrind")
	logPath := filepath.Join(work, e.name+".log")
	var procs benchproc.Procs
	defer procs.StopAll()
	logFile := benchproc.LogFile(logPath)
	defer logFile.Close()
	vg := procs.Start(logFile, e.env, "valgrind", "--tool=callgrind", "--callgrind-out-file="+out,
		"--dump-instr=no", "--compress-strings=no", "--compress-pos=no",
		bin+"/edge", "-snapshot-path=") // an empty SNAPSHOT_PATH would mean the default
	if err := benchproc.WaitPort("127.0.0.1:18180", 5*time.Minute); err != nil { // building the snapshot is slow under valgrind
		b, _ := os.ReadFile(logPath)
		log.Fatalf("%s: %v; its output:\n%s", e.name, err, b)
	}

	cl := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer cl.CloseIdleConnections()
	for _, h := range tenantsMeasured {
		send(cl, h, path, 500) // warm-up: the tenant's theme, limiter and connections
	}
	dumps := 0
	dump := func() string {
		dumps++
		if msg, err := exec.Command("callgrind_control", "--dump", strconv.Itoa(vg.Process.Pid)).CombinedOutput(); err != nil {
			log.Fatalf("callgrind_control: %v\n%s", err, msg)
		}
		return fmt.Sprintf("%s.%d", out, dumps)
	}
	dump() // the start of the first phase
	res := result{perReq: map[string][]float64{}, dump: map[string]string{}}
	for r := 0; r < rounds; r++ {
		order := slices.Clone(tenantsMeasured)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, h := range order {
			send(cl, h, path, n)
			f := dump()
			total, err := totalOf(f)
			for wait := 0; err != nil && wait < 100; wait++ { // the dump may still be being written
				time.Sleep(100 * time.Millisecond)
				total, err = totalOf(f)
			}
			if err != nil {
				log.Fatal(err)
			}
			res.perReq[h] = append(res.perReq[h], float64(total)/float64(n))
			res.dump[h] = f
		}
	}
	return res
}

func (res result) print(name string, n, top int) {
	med := map[string]float64{}
	for _, h := range tenantsMeasured {
		v := slices.Sorted(slices.Values(res.perReq[h]))
		med[h] = v[len(v)/2]
		fmt.Printf("%-11s %-9s %8.0f (%.0f–%.0f)\n", name, h, med[h], v[0], v[len(v)-1])
	}
	base := med["nolimit"]
	fmt.Printf("\n%s: limits and quotas (t05000 ÷ nolimit) %.3f, %+.0f instructions per request\n", name, med["t05000"]/base, med["t05000"]-base)
	fmt.Printf("%s: theme injection (t05000 ÷ noinject) %.3f, %+.0f instructions per request\n", name, med["t05000"]/med["noinject"], med["t05000"]-med["noinject"])

	off, err := selfCosts(res.dump["nolimit"])
	if err != nil {
		log.Fatal(err)
	}
	on, err := selfCosts(res.dump["t05000"])
	if err != nil {
		log.Fatal(err)
	}
	type delta struct {
		fn string
		d  float64
	}
	var ds []delta
	for fn := range on {
		ds = append(ds, delta{fn, float64(on[fn]-off[fn]) / float64(n)})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].d > ds[j].d })
	fmt.Printf("\n%s: functions whose own instructions per request grew most with the limits on (last round)\n", name)
	for _, d := range ds[:min(top, len(ds))] {
		fmt.Printf("  %+7.0f  %s\n", d.d, d.fn)
	}
	fmt.Println()
}

// send makes n GET requests of path for tenant host over four keep-alive
// connections; any answer but a 200 is fatal, as a refusal would make the
// figures about refusals.
func send(cl *http.Client, host, path string, n int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range 4 {
		wg.Go(func() {
			for range next {
				if err := get(cl, host, path); err != nil {
					mu.Lock()
					failure = errors.Join(failure, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if failure != nil {
		log.Fatalf("%s: %v", host, failure)
	}
}

func get(cl *http.Client, host, path string) error {
	req, err := http.NewRequestWithContext(context.Background(), "GET", "http://127.0.0.1:18180"+path, nil)
	if err != nil {
		return err
	}
	req.Host = host + ".bench.test"
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d", path, resp.StatusCode)
	}
	return nil
}

// totalOf reads the instruction total of a callgrind dump.
func totalOf(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("callgrind dump: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no totals line", path)
}

// selfCosts sums each function's own instructions in a callgrind dump
// written with --compress-strings=no --compress-pos=no: the cost lines
// under each fn=, leaving out the line after each calls=, which is the
// callee's inclusive cost. Recursion levels (name'2) count as one.
func selfCosts(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("callgrind dump: %w", err)
	}
	defer f.Close()
	costs := map[string]int64{}
	fn, afterCall := "", false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "fn="):
			fn = l[len("fn="):]
			if i := strings.LastIndexByte(fn, '\''); i > 0 {
				fn = fn[:i]
			}
		case strings.HasPrefix(l, "calls="):
			afterCall = true
		case l != "" && l[0] >= '0' && l[0] <= '9':
			if afterCall {
				afterCall = false
				continue
			}
			fields := strings.Fields(l)
			if len(fields) < 2 || fn == "" {
				continue
			}
			v, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, l, err)
			}
			costs[fn] += v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return costs, nil
}
