// Command bench runs one goro-bench-compare workload with Go's own goroutines and
// channels and prints one RESULT line, in the same format as the Rust programs in
// ../src. The runner (`cargo run --release -p goro-bench-compare -- all`) builds it
// with `go build`, sets GOMAXPROCS and passes the sizes, so both sides run the same
// work.
//
// Each workload runs once at the warm-up size (not measured), then once at the
// measured size. Wall time is taken around the measured section and CPU time is
// getrusage(RUSAGE_SELF) user+sys over the same section (all threads).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// measurement is what one measured section produced.
type measurement struct {
	ops          int64
	wall         time.Duration
	cpu          time.Duration
	bytesPerTask float64       // < 0 when the workload does not measure it
	p50, p99     time.Duration // request latency percentiles (http_hello), 0 otherwise
	ok           bool
	detail       string
}

type stopwatch struct {
	wall time.Time
	cpu  time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Maxrss // KiB on Linux
}

// currentRSSKiB reads VmRSS from /proc/self/status.
func currentRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			v, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				panic(err)
			}
			return v
		}
	}
	panic("VmRSS not found in /proc/self/status")
}

func start() stopwatch { return stopwatch{wall: time.Now(), cpu: cpuTime()} }

func (s stopwatch) stop(ops int64) measurement {
	wall := time.Since(s.wall)
	cpu := cpuTime() - s.cpu
	return measurement{ops: ops, wall: wall, cpu: cpu, bytesPerTask: -1, ok: true}
}

func (m measurement) expect(ok bool, detail string) measurement {
	if !ok {
		m.ok = false
		m.detail = detail
	}
	return m
}

func triangle(n int) int { return n * (n - 1) / 2 }

// ---------------------------------------------------------------------------
// Workloads.

func pingpong(n int) measurement {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t := start()
	sum := 0
	for i := 0; i < n; i++ {
		ping <- i
		sum += <-pong
	}
	m := t.stop(int64(n))
	close(ping)
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

func spsc(n, capacity int) measurement {
	ch := make(chan int, capacity)
	t := start()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	sum, cnt := 0, 0
	for v := range ch {
		sum += v
		cnt++
	}
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n) && cnt == n, fmt.Sprintf("sum=%d,count=%d", sum, cnt))
}

func mpmc(n, capacity, producers, consumers int) measurement {
	ch := make(chan int, capacity)
	results := make(chan [2]int, consumers)
	t := start()
	var pw sync.WaitGroup
	pw.Add(producers)
	for p := 0; p < producers; p++ {
		go func(p int) {
			for i := p; i < n; i += producers {
				ch <- i
			}
			pw.Done()
		}(p)
	}
	for c := 0; c < consumers; c++ {
		go func() {
			s, k := 0, 0
			for v := range ch {
				s += v
				k++
			}
			results <- [2]int{s, k}
		}()
	}
	pw.Wait()
	close(ch)
	sum, cnt := 0, 0
	for c := 0; c < consumers; c++ {
		r := <-results
		sum += r[0]
		cnt += r[1]
	}
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n) && cnt == n, fmt.Sprintf("sum=%d,count=%d", sum, cnt))
}

func spawnJoin(n int) measurement {
	res := make([]int, n)
	var wg sync.WaitGroup
	t := start()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			res[i] = i
			wg.Done()
		}(i)
	}
	wg.Wait()
	sum := 0
	for _, v := range res {
		sum += v
	}
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

func skynetNode(c chan<- int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	for i := 0; i < div; i++ {
		go skynetNode(rc, num+i*(size/div), size/div, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynet(leaves int) measurement {
	t := start()
	c := make(chan int)
	go skynetNode(c, 0, leaves, 10)
	sum := <-c
	m := t.stop(1)
	return m.expect(sum == triangle(leaves), fmt.Sprintf("sum=%d", sum))
}

func parked(n int) measurement {
	ch := make(chan int)
	var started, exited atomic.Int64
	runtime.GC()
	baseline := currentRSSKiB()
	t := start()
	for i := 0; i < n; i++ {
		go func() {
			started.Add(1)
			<-ch
			exited.Add(1)
		}()
	}
	for started.Load() < int64(n) {
		runtime.Gosched()
	}
	m := t.stop(int64(n))
	// Let the last goroutines reach the receive before sampling.
	time.Sleep(20 * time.Millisecond)
	now := currentRSSKiB()
	m.bytesPerTask = float64(now-baseline) * 1024 / float64(n)
	close(ch)
	for exited.Load() < int64(n) {
		runtime.Gosched()
	}
	return m.expect(exited.Load() == int64(n), fmt.Sprintf("exited=%d", exited.Load()))
}

func sieveGenerate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func sieveFilter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

// nthPrime computes the expected answer independently (trial division).
func nthPrime(n int) int {
	count := 0
	for c := 2; ; c++ {
		isPrime := true
		for d := 2; d*d <= c; d++ {
			if c%d == 0 {
				isPrime = false
				break
			}
		}
		if isPrime {
			count++
			if count == n {
				return c
			}
		}
	}
}

// sieve leaves its goroutines blocked when it returns (as Go's classic example
// does); the chain stalls, so they use no CPU afterwards.
func sieve(nprimes int) measurement {
	want := nthPrime(nprimes)
	t := start()
	ch := make(chan int)
	go sieveGenerate(ch)
	last := 0
	for i := 0; i < nprimes; i++ {
		prime := <-ch
		last = prime
		ch1 := make(chan int)
		go sieveFilter(ch, ch1, prime)
		ch = ch1
	}
	m := t.stop(1)
	return m.expect(last == want, fmt.Sprintf("last=%d,want=%d", last, want))
}

func select4Ready(n int) measurement {
	var cs [4]chan int
	for k := range cs {
		cs[k] = make(chan int, 1024)
	}
	t := start()
	for k := 0; k < 4; k++ {
		go func(k int) {
			for i := k; i < n; i += 4 {
				cs[k] <- i
			}
		}(k)
	}
	sum := 0
	for got := 0; got < n; got++ {
		select {
		case v := <-cs[0]:
			sum += v
		case v := <-cs[1]:
			sum += v
		case v := <-cs[2]:
			sum += v
		case v := <-cs[3]:
			sum += v
		}
	}
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

func select4Idle(n int) measurement {
	var cs [4]chan int
	for k := range cs {
		cs[k] = make(chan int, 1024)
	}
	ack := make(chan int)
	t := start()
	go func() {
		for i := 0; i < n; i++ {
			cs[i%4] <- i
			<-ack
		}
	}()
	sum := 0
	for got := 0; got < n; got++ {
		select {
		case v := <-cs[0]:
			sum += v
		case v := <-cs[1]:
			sum += v
		case v := <-cs[2]:
			sum += v
		case v := <-cs[3]:
			sum += v
		}
		ack <- 0
	}
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

// timersSleep: n goroutines each sleep 1 ms at once; wall time from the first
// spawn until the last one is done. None may wake before 1 ms since its own start.
func timersSleep(n int) measurement {
	const d = time.Millisecond
	slept := make([]time.Duration, n)
	var wg sync.WaitGroup
	t := start()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			t0 := time.Now()
			time.Sleep(d)
			slept[i] = time.Since(t0)
			wg.Done()
		}(i)
	}
	wg.Wait()
	m := t.stop(int64(n))
	early, finished := 0, 0
	minD, maxD := time.Duration(1<<62), time.Duration(0)
	for _, s := range slept {
		if s > 0 {
			finished++
		}
		if s < d {
			early++
		}
		minD, maxD = min(minD, s), max(maxD, s)
	}
	return m.expect(finished == n && early == 0, fmt.Sprintf("finished=%d,early=%d,min_us=%d,max_us=%d",
		finished, early, minD.Microseconds(), maxD.Microseconds()))
}

const msgSize = 64

// fillMsg writes the i'th tcp_echo_rtt message (the same bytes as the Rust
// programs' fill_msg).
func fillMsg(msg []byte, i uint64) {
	for j := range msg {
		msg[j] = byte(i>>(8*(j%8))) ^ byte(j)*37
	}
}

// echo copies everything read on conn back to it until EOF; sends the bytes
// echoed on done.
func echo(conn net.Conn, done chan<- int) {
	defer conn.Close()
	buf := make([]byte, 4096)
	total := 0
	for {
		k, err := conn.Read(buf)
		if k > 0 {
			if _, werr := conn.Write(buf[:k]); werr != nil {
				panic(werr)
			}
			total += k
		}
		if err == io.EOF {
			done <- total
			return
		}
		if err != nil {
			panic(err)
		}
	}
}

// tcpEchoRTT: a loopback echo server (a goroutine per connection); one client
// connection does n sequential round trips of 64 bytes. TCP_NODELAY is Go's default.
func tcpEchoRTT(n int) measurement {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan int, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // ln closed
			}
			go echo(conn, done)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	msg, reply := make([]byte, msgSize), make([]byte, msgSize)
	bad := 0
	t := start()
	for i := 0; i < n; i++ {
		fillMsg(msg, uint64(i))
		if _, err := conn.Write(msg); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			panic(err)
		}
		if !bytes.Equal(reply, msg) {
			bad++
		}
	}
	m := t.stop(int64(n))
	conn.(*net.TCPConn).CloseWrite()
	echoed := <-done
	conn.Close()
	ln.Close()
	return m.expect(bad == 0 && echoed == n*msgSize, fmt.Sprintf("bad_replies=%d,echoed=%d", bad, echoed))
}

// Go-shaped variants (issue 15): every producer and consumer is a goroutine;
// main only starts them and waits.

func pingpongGo(n int) measurement {
	ping, pong := make(chan int), make(chan int)
	done := make(chan int)
	t := start()
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	go func() {
		sum := 0
		for i := 0; i < n; i++ {
			ping <- i
			sum += <-pong
		}
		close(ping)
		done <- sum
	}()
	sum := <-done
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

func spscGo(n int) measurement {
	ch := make(chan int, 1024)
	done := make(chan [2]int)
	t := start()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	go func() {
		sum, cnt := 0, 0
		for v := range ch {
			sum += v
			cnt++
		}
		done <- [2]int{sum, cnt}
	}()
	r := <-done
	m := t.stop(int64(n))
	return m.expect(r[0] == triangle(n) && r[1] == n, fmt.Sprintf("sum=%d,count=%d", r[0], r[1]))
}

func select4Go(n int) measurement {
	var cs [4]chan int
	for k := range cs {
		cs[k] = make(chan int, 1024)
	}
	done := make(chan int)
	t := start()
	for k := range cs {
		go func(k int) {
			for i := k; i < n; i += 4 {
				cs[k] <- i
			}
		}(k)
	}
	go func() {
		sum := 0
		for i := 0; i < n; i++ {
			select {
			case v := <-cs[0]:
				sum += v
			case v := <-cs[1]:
				sum += v
			case v := <-cs[2]:
				sum += v
			case v := <-cs[3]:
				sum += v
			}
		}
		done <- sum
	}()
	sum := <-done
	m := t.stop(int64(n))
	return m.expect(sum == triangle(n), fmt.Sprintf("sum=%d", sum))
}

// --- sync primitives ---

func mutexUncontended(n int) measurement {
	var mu sync.Mutex
	count := 0
	t := start()
	for i := 0; i < n; i++ {
		mu.Lock()
		count++
		mu.Unlock()
	}
	m := t.stop(int64(n))
	return m.expect(count == n, fmt.Sprintf("count=%d", count))
}

func mutexContended(n, tasks int) measurement {
	var mu sync.Mutex
	var wg sync.WaitGroup
	count := 0
	per := n / tasks
	t := start()
	for g := 0; g < tasks; g++ {
		wg.Go(func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				count++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	m := t.stop(int64(per * tasks))
	return m.expect(count == per*tasks, fmt.Sprintf("count=%d", count))
}

func waitGroupFanIn(n, batch int) measurement {
	var wg sync.WaitGroup
	t := start()
	for done := 0; done < n; {
		k := min(batch, n-done)
		wg.Add(k)
		for i := 0; i < k; i++ {
			go wg.Done()
		}
		wg.Wait()
		done += k
	}
	m := t.stop(int64(n))
	return m.expect(true, "")
}

func rwMutexReadMostly(n, tasks int) measurement {
	var mu sync.RWMutex
	var wg sync.WaitGroup
	value := 0
	per := n / tasks
	t := start()
	for g := 0; g < tasks; g++ {
		wg.Go(func() {
			seen := 0
			for i := 0; i < per; i++ {
				if i%10 == 0 {
					mu.Lock()
					value++
					mu.Unlock()
				} else {
					mu.RLock()
					seen += value
					mu.RUnlock()
				}
			}
			_ = seen
		})
	}
	wg.Wait()
	m := t.stop(int64(per * tasks))
	writes := (per + 9) / 10 * tasks
	return m.expect(value == writes, fmt.Sprintf("writes=%d", value))
}

// ctxCancelFanout (context, issue 10): n goroutines each wait on the Done of
// their own child of one context; the section is from cancelling the root
// until the last one has woken.
func ctxCancelFanout(n int) measurement {
	root, cancel := context.WithCancel(context.Background())
	var ready, woke sync.WaitGroup
	ready.Add(n)
	woke.Add(n)
	var canceled atomic.Int64
	for i := 0; i < n; i++ {
		go func() {
			child, cancelChild := context.WithCancel(root)
			defer cancelChild()
			done := child.Done()
			ready.Done()
			<-done
			if child.Err() == context.Canceled {
				canceled.Add(1)
			}
			woke.Done()
		}()
	}
	ready.Wait()
	t := start()
	cancel()
	woke.Wait()
	m := t.stop(int64(n))
	c := canceled.Load()
	return m.expect(c == int64(n), fmt.Sprintf("canceled=%d", c))
}

func run(workload string, n int) measurement {
	// NAME_w1 / NAME_w2: the same program at a fixed GOMAXPROCS (the runner
	// sets it).
	if i := strings.LastIndex(workload, "_w"); i > 0 {
		if _, err := strconv.Atoi(workload[i+2:]); err == nil {
			workload = workload[:i]
		}
	}
	switch workload {
	case "pingpong_go":
		return pingpongGo(n)
	case "spsc_go":
		return spscGo(n)
	case "mpmc_go":
		return mpmc(n, 1024, 4, 4)
	case "select4_go":
		return select4Go(n)
	case "spawn_wg":
		return spawnJoin(n)
	case "pingpong_unbuffered":
		return pingpong(n)
	case "spsc_cap1":
		return spsc(n, 1)
	case "spsc_cap1024":
		return spsc(n, 1024)
	case "mpmc_cap1":
		return mpmc(n, 1, 4, 4)
	case "mpmc_cap1024":
		return mpmc(n, 1024, 4, 4)
	case "spawn_join":
		return spawnJoin(n)
	case "skynet":
		return skynet(n)
	case "parked_goroutine":
		return parked(n)
	case "prime_sieve":
		return sieve(n)
	case "select4_ready":
		return select4Ready(n)
	case "select4_idle":
		return select4Idle(n)
	case "timers_100k_sleep":
		return timersSleep(n)
	case "tcp_echo_rtt":
		return tcpEchoRTT(n)
	case "mutex_uncontended":
		return mutexUncontended(n)
	case "mutex_contended":
		return mutexContended(n, 8)
	case "waitgroup_fanin":
		return waitGroupFanIn(n, 10000)
	case "rwmutex_read_mostly":
		return rwMutexReadMostly(n, 8)
	// context (issue 10).
	case "ctx_cancel_fanout":
		return ctxCancelFanout(n)
	case "http_hello":
		return httpHello(n, false)
	case "http_hello_raw":
		return httpHello(n, true)
	}
	fmt.Fprintf(os.Stderr, "unknown workload %q\n", workload)
	os.Exit(2)
	panic("unreachable")
}

func main() {
	workload := flag.String("workload", "", "workload name")
	n := flag.Int("n", 0, "measured size")
	warmup := flag.Int("warmup", 0, "warm-up size (0: none)")
	load := flag.String("load", "", "run the HTTP load generator against this address")
	raw := flag.Bool("raw", false, "with -load: send the requests over raw TCP instead of net/http's client")
	flag.Parse()
	if *load != "" {
		httpLoad(*load, *n, *raw)
		return
	}
	if *workload == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: bench -workload NAME -n SIZE [-warmup SIZE]")
		os.Exit(2)
	}
	if *workload == "skynet" && (!powerOfTen(*n) || (*warmup > 0 && !powerOfTen(*warmup))) {
		// The tree divides by 10 at every level: another size reaches 0 and
		// spawns without end.
		fmt.Fprintf(os.Stderr, "skynet needs sizes that are powers of 10 (10, 100, ..., 1000000), got -n=%d -warmup=%d\n", *n, *warmup)
		os.Exit(2)
	}
	if *warmup > 0 {
		if w := run(*workload, *warmup); !w.ok {
			fmt.Printf("RESULT workload=%s system=go check=FAIL detail=warmup:%s\n", *workload, w.detail)
			os.Exit(1)
		}
	}
	m := run(*workload, *n)
	check := "ok"
	if !m.ok {
		check = "FAIL"
	}
	wallNs := m.wall.Nanoseconds()
	cpuNs := m.cpu.Nanoseconds()
	line := fmt.Sprintf("RESULT workload=%s system=go ops=%d wall_ns=%d ns_per_op=%.1f cpu_ns_per_op=%.1f cpu_util=%.2f rss_kib=%d",
		*workload, m.ops, wallNs, float64(wallNs)/float64(m.ops), float64(cpuNs)/float64(m.ops),
		float64(cpuNs)/float64(wallNs), peakRSSKiB())
	if m.bytesPerTask >= 0 {
		line += fmt.Sprintf(" bytes_per_task=%.0f", m.bytesPerTask)
	}
	if m.p50 > 0 {
		line += fmt.Sprintf(" p50_ns=%d p99_ns=%d", m.p50.Nanoseconds(), m.p99.Nanoseconds())
	}
	line += " check=" + check
	if m.detail != "" {
		line += " detail=" + m.detail
	}
	fmt.Println(line)
	if !m.ok {
		os.Exit(1)
	}
}

// powerOfTen: 10, 100, 1000, ...
func powerOfTen(n int) bool {
	if n < 10 {
		return false
	}
	for n%10 == 0 {
		n /= 10
	}
	return n == 1
}
