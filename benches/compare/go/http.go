package main

// The http_hello workload: a hello-world HTTP server under the Go standard
// library's HTTP client as load generator. The load generator runs in its own
// process (this binary with -load), so the server's CPU time (getrusage
// RUSAGE_SELF) is the server's only. The Rust servers (goro+hyper,
// tokio+hyper) start the same load generator, so all three are measured
// under the same client.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The response body every server sends.
const helloBody = "Hello, World!"

// loadConns is the number of keep-alive connections the load generator uses.
const loadConns = 32

// loadLimit bounds one load run in time (the request count bounds it too).
const loadLimit = 20 * time.Second

// loadResult is what the load generator reports.
type loadResult struct {
	ok, errors int64
	p50, p99   time.Duration
	wall       time.Duration
}

// httpLoad is the load generator (-load ADDR): n GET requests over loadConns
// keep-alive connections, at most loadLimit; prints one LOAD line. raw
// (-raw, the http_hello_raw workload) sends them with rawGet instead of
// net/http's client.
func httpLoad(addr string, n int, raw bool) {
	if raw {
		runLoadWith(n, func(next func() bool, ok func(time.Duration), fail func()) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				fail()
				return
			}
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 4096)
			for next() {
				s := time.Now()
				if err := rawGet(conn, r); err != nil {
					// The connection's state is unknown: it stops here
					// (one failure fails the run).
					fail()
					return
				}
				ok(time.Since(s))
			}
		})
		return
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: loadConns,
		MaxConnsPerHost:     loadConns,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr}
	url := "http://" + addr + "/"
	runLoadWith(n, func(next func() bool, ok func(time.Duration), fail func()) {
		for next() {
			s := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				fail()
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != helloBody {
				fail()
				continue
			}
			ok(time.Since(s))
		}
	})
}

// rawRequest is what rawGet sends: the request line and Host header only.
const rawRequest = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

// rawGet sends one GET over conn and reads its response from r: the status
// line must say 200, Content-Length gives the body's size (no chunked
// bodies: every server here sends a fixed-size body), and the body must be
// helloBody. The load generator's own cost per request is then a write, a
// read and a scan of a few header lines, well below net/http's client, so
// the server's cost weighs more in the throughput (the two share the
// machine's cores).
func rawGet(conn net.Conn, r *bufio.Reader) error {
	if _, err := io.WriteString(conn, rawRequest); err != nil {
		return err
	}
	status, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(status), "HTTP/1.1 200 ") {
		return fmt.Errorf("status %q", status)
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, found := strings.Cut(string(line), ":"); found && strings.EqualFold(k, "content-length") {
			length, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("no content-length")
	}
	var body [64]byte
	if length > len(body) {
		return fmt.Errorf("body of %d bytes", length)
	}
	if _, err := io.ReadFull(r, body[:length]); err != nil {
		return err
	}
	if string(body[:length]) != helloBody {
		return fmt.Errorf("body %q", body[:length])
	}
	return nil
}

// runLoadWith runs conn on loadConns goroutines: conn takes requests while
// next() says so (n in all, at most loadLimit), reporting each with
// ok(latency) or fail(); then prints the LOAD line.
func runLoadWith(n int, conn func(next func() bool, ok func(time.Duration), fail func())) {
	var taken, failed atomic.Int64
	lat := make([][]time.Duration, loadConns)
	deadline := time.Now().Add(loadLimit)
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < loadConns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn(func() bool { return taken.Add(1) <= int64(n) && time.Now().Before(deadline) },
				func(d time.Duration) { lat[c] = append(lat[c], d) },
				func() { failed.Add(1) })
		}(c)
	}
	wg.Wait()
	wall := time.Since(t0)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	fmt.Printf("LOAD ok=%d errors=%d wall_ns=%d p50_ns=%d p99_ns=%d\n",
		len(all), failed.Load(), wall.Nanoseconds(), pct(0.50).Nanoseconds(), pct(0.99).Nanoseconds())
}

// runLoad starts the load generator against addr (with -raw if raw) and
// parses its LOAD line.
func runLoad(addr string, n int, raw bool) (loadResult, error) {
	args := []string{"-load", addr, "-n", strconv.Itoa(n)}
	if raw {
		args = append(args, "-raw")
	}
	out, err := exec.Command(os.Args[0], args...).Output()
	if err != nil {
		return loadResult{}, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "LOAD ") {
			continue
		}
		f := map[string]int64{}
		for _, kv := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(kv, "=")
			f[k], _ = strconv.ParseInt(v, 10, 64)
		}
		return loadResult{ok: f["ok"], errors: f["errors"], wall: time.Duration(f["wall_ns"]),
			p50: time.Duration(f["p50_ns"]), p99: time.Duration(f["p99_ns"])}, nil
	}
	return loadResult{}, fmt.Errorf("no LOAD line")
}

// httpHello: net/http serving hello world (Go's timeouts set as goro's
// Server defaults), measured while the load generator (raw: its raw-TCP
// client) runs.
func httpHello(n int, raw bool) measurement {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, helloBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		WriteTimeout:      60 * time.Second,
	}
	go srv.Serve(ln)
	t := start()
	load, err := runLoad(ln.Addr().String(), n, raw)
	m := t.stop(load.ok)
	srv.Close()
	if err != nil {
		return m.expect(false, "load:"+strings.ReplaceAll(err.Error(), " ", "_"))
	}
	m.p50, m.p99 = load.p50, load.p99
	return m.expect(load.errors == 0 && load.ok > 0, fmt.Sprintf("ok=%d,errors=%d", load.ok, load.errors))
}
