package metrics

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/internal/testproc"
)

// callN sends n calls of service/method through chain, each taking took
// on clk (failing when fail says so).
func callN(chain gateway.Invoker, service, method string, n int) {
	for i := 0; i < n; i++ {
		chain.Invoke(context.Background(), &gateway.Call{Service: service, Method: method, RequestID: strconv.Itoa(i)}, &gateway.Reply{})
	}
}

// TestGraphiteLines sends reports to real TCP and UDP listeners on
// loopback and checks the lines: per service method (the routes calling
// it merged), every period once.
func TestGraphiteLines(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		t.Run(proto, func(t *testing.T) {
			clk := newFakeClock()
			m, _ := newTestMetrics(t, clk, Options{Window: time.Minute, Period: 5 * time.Second})
			if m.Period() != 5*time.Second {
				t.Fatalf("period %v, want the Graphite interval 5s", m.Period())
			}
			lines := make(chan string, 100)
			var addr string
			if proto == "tcp" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				addr = ln.Addr().String()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					sc := bufio.NewScanner(c)
					for sc.Scan() {
						lines <- sc.Text()
					}
				}()
			} else {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				addr = pc.LocalAddr().String()
				go func() {
					buf := make([]byte, 65536)
					for {
						n, _, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						if n > maxDatagram {
							lines <- fmt.Sprintf("datagram of %d bytes", n)
						}
						for _, l := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n") {
							lines <- l
						}
					}
				}()
			}
			g, err := m.newGraphite(GraphiteOptions{Address: addr, Protocol: proto, Interval: 5 * time.Second, Prefix: "gw.{host}"})
			if err != nil {
				t.Fatal(err)
			}
			defer g.closeConn()
			host, _ := os.Hostname()
			prefix := "gw." + pathNode(host) + "."

			// Two routes call com.example.Users/Get: merged. Each call takes
			// 10ms; every tenth fails.
			up := invokerFunc(func(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
				clk.advance(10 * time.Millisecond)
				if strings.HasSuffix(call.RequestID, "9") {
					return context.DeadlineExceeded
				}
				return nil
			})
			r1 := gateway.Chain(up, m.RouteFilter("r1", "http"))
			r2 := gateway.Chain(up, m.RouteFilter("r2", "http"))
			callN(r1, "com.example.Users", "Get", 200) // 2s of the first period
			callN(r2, "com.example.Users", "Get", 100) // 1s more
			callN(r2, "com.example.Users", "List/All", 10)
			// Nothing ended yet: nothing is sent.
			if err := g.report(); err != nil {
				t.Fatal(err)
			}
			clk.advance(5 * time.Second)
			if err := g.report(); err != nil {
				t.Fatal(err)
			}
			end := strconv.FormatInt(clk.base.Add(5*time.Second).Unix(), 10)
			want := []string{
				prefix + "com_example_Users.Get.qps 60 " + end, // 300 calls in 5s
				prefix + "com_example_Users.Get.avg_ms 10 " + end,
				prefix + "com_example_Users.Get.success_rate 90 " + end,
				prefix + "com_example_Users.Get.p999_ms 10.004 " + end, // the bucket's midpoint: within 3%
				prefix + "com_example_Users.List_All.qps 2 " + end,
				prefix + "com_example_Users.List_All.avg_ms 10 " + end,
				prefix + "com_example_Users.List_All.success_rate 90 " + end,
				prefix + "com_example_Users.List_All.p999_ms 10.004 " + end,
			}
			for i, w := range want {
				got := readLine(t, lines)
				if i == 3 || i == 7 { // p999: check the value's range
					f := strings.Fields(got)
					v, _ := strconv.ParseFloat(f[1], 64)
					if len(f) != 3 || !strings.HasSuffix(f[0], ".p999_ms") || v < 9.7 || v > 10.3 || f[2] != end {
						t.Errorf("line %d: %q, want about %q", i, got, w)
					}
					continue
				}
				if got != w {
					t.Errorf("line %d: %q, want %q", i, got, w)
				}
			}
			// The next period without calls reports qps 0 only; a report
			// within the same period sends nothing.
			clk.advance(5 * time.Second)
			g.report()
			g.report()
			end2 := strconv.FormatInt(clk.base.Add(10*time.Second).Unix(), 10)
			for _, w := range []string{prefix + "com_example_Users.Get.qps 0 " + end2, prefix + "com_example_Users.List_All.qps 0 " + end2} {
				if got := readLine(t, lines); got != w {
					t.Errorf("%q, want %q", got, w)
				}
			}
			select {
			case l := <-lines:
				t.Errorf("unexpected line %q", l)
			default:
			}
		})
	}
}

// TestGraphiteRestartSendsNoPeriodTwice: a reporter started again (a
// reload that changed the section) reports only the periods that end
// after it started, not the window its predecessor already sent.
func TestGraphiteRestartSendsNoPeriodTwice(t *testing.T) {
	clk := newFakeClock()
	m, _ := newTestMetrics(t, clk, Options{Window: time.Minute, Period: 5 * time.Second})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n") {
				lines <- l
			}
		}
	}()
	start := func() *Graphite {
		g, err := m.newGraphite(GraphiteOptions{Address: pc.LocalAddr().String(), Protocol: "udp", Interval: 5 * time.Second, Prefix: "gw"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.closeConn)
		return g
	}
	chain := gateway.Chain(invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil }), m.RouteFilter("r", "http"))
	first := start()
	callN(chain, "S", "m", 10)
	clk.advance(5 * time.Second)
	if err := first.report(); err != nil {
		t.Fatal(err)
	}
	end1 := strconv.FormatInt(clk.now().Unix(), 10)
	if got := readLine(t, lines); got != "gw.S.m.qps 2 "+end1 {
		t.Fatalf("first reporter: %q", got)
	}
	for range 3 { // avg_ms, success_rate, p999_ms
		readLine(t, lines)
	}
	second := start() // within the same period: nothing new has ended
	if err := second.report(); err != nil {
		t.Fatal(err)
	}
	clk.advance(5 * time.Second)
	if err := second.report(); err != nil {
		t.Fatal(err)
	}
	// Loopback keeps one socket's datagrams in order: a period sent again
	// would come first.
	end2 := strconv.FormatInt(clk.now().Unix(), 10)
	if got := readLine(t, lines); got != "gw.S.m.qps 0 "+end2 {
		t.Fatalf("restarted reporter sent %q first, want only the new period's qps 0", got)
	}
}

func readLine(t *testing.T, lines chan string) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line in 10s")
		return ""
	}
}

// TestGraphiteReconnects: a receiver that goes away makes the report fail
// and the next one dial again.
func TestGraphiteReconnects(t *testing.T) {
	clk := newFakeClock()
	m, _ := newTestMetrics(t, clk, Options{Window: time.Minute, Period: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens
	g, err := m.newGraphite(GraphiteOptions{Address: addr, Interval: time.Second, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.closeConn()
	chain := gateway.Chain(invokerFunc(func(context.Context, *gateway.Call, *gateway.Reply) error { return nil }), m.RouteFilter("r", "http"))
	callN(chain, "S", "M", 1)
	clk.advance(time.Second)
	if err := g.report(); err == nil {
		t.Fatal("report to a closed port succeeded")
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken again meanwhile: %v", addr, err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		if sc.Scan() {
			got <- sc.Text()
		}
	}()
	callN(chain, "S", "M", 2)
	clk.advance(time.Second)
	if err := g.report(); err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, got); !strings.HasPrefix(l, "meshgate.S.M.qps 2 ") {
		t.Fatalf("after reconnecting: %q", l)
	}
}

// TestGraphiteStartStop: the reporter goroutine ends with Stop (the leak
// check would see it otherwise), also before any report.
func TestGraphiteStartStop(t *testing.T) {
	m, _ := newTestMetrics(t, nil, Options{})
	g, err := m.StartGraphite(GraphiteOptions{Address: "127.0.0.1:1", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g.Stop()
	g.Stop() // idempotent
	for _, o := range []GraphiteOptions{{Address: "nohost"}, {Address: "127.0.0.1:1", Protocol: "sctp"}} {
		if _, err := m.StartGraphite(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestCarbonCache sends reports to a real carbon-cache (Debian's
// graphite-carbon) and reads back what it stored in whisper files with
// whisper-fetch.
func TestCarbonCache(t *testing.T) {
	carbon, err := exec.LookPath("carbon-cache")
	if err != nil {
		t.Skip("carbon-cache not installed (Debian package graphite-carbon): skipping the real carbon test")
	}
	fetch, err := exec.LookPath("whisper-fetch")
	if err != nil {
		t.Skip("whisper-fetch not installed (Debian package python3-whisper): skipping the real carbon test")
	}
	dir := t.TempDir()
	port := testproc.FreePort(t)
	for _, d := range []string{"storage/whisper", "log", "run", "conf", "lists"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/storage
LOCAL_DATA_DIR = %[1]s/storage/whisper
WHITELISTS_DIR = %[1]s/lists
CONF_DIR = %[1]s/conf
LOG_DIR = %[1]s/log
PID_DIR = %[1]s/run
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[2]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[3]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[4]d
CARBON_METRIC_INTERVAL = 0
LOG_UPDATES = False
LOG_CREATES = True
WHISPER_AUTOFLUSH = True
ENABLE_TAGS = False
`, dir, port, testproc.FreePort(t), testproc.FreePort(t))
	testproc.WriteFile(t, filepath.Join(dir, "conf", "carbon.conf"), conf)
	testproc.WriteFile(t, filepath.Join(dir, "conf", "storage-schemas.conf"), "[all]\npattern = .*\nretentions = 1s:1h\n")
	testproc.WriteFile(t, filepath.Join(dir, "conf", "storage-aggregation.conf"), "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
	p := testproc.Start(t, "carbon-cache", carbon, "--config="+filepath.Join(dir, "conf", "carbon.conf"), "--debug", "start")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testproc.WaitFor(t, 30*time.Second, "carbon-cache listening on "+addr, func() bool {
		p.FatalIfExited()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	m, err := New(Options{Window: 10 * time.Second, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g, err := m.StartGraphite(GraphiteOptions{Address: addr, Interval: time.Second, Prefix: "test.gw"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	chain := gateway.Chain(invokerFunc(func(_ context.Context, call *gateway.Call, _ *gateway.Reply) error {
		if strings.HasSuffix(call.RequestID, "3") {
			return context.Canceled
		}
		return nil
	}), m.RouteFilter("users", "http"))
	callN(chain, "com.example.Users", "Get", 50) // ids 3, 13, ... 43 fail: 90%

	// carbon writes the points it receives into whisper files; read them
	// back until the period of the calls is there.
	node := filepath.Join(dir, "storage", "whisper", "test", "gw", "com_example_Users", "Get")
	// The calls may straddle a period boundary: the qps points (one per 1s
	// period) add up to the 50 calls.
	var qps, success []float64
	testproc.WaitFor(t, 30*time.Second, "whisper files with the reported values", func() bool {
		qps = fetchValues(t, fetch, filepath.Join(node, "qps.wsp"))
		success = fetchValues(t, fetch, filepath.Join(node, "success_rate.wsp"))
		return sum(qps) >= 50 && len(success) > 0
	})
	if sum(qps) != 50 {
		t.Errorf("stored qps %v: sum %v, want 50 calls", qps, sum(qps))
	}
	if len(success) == 1 && success[0] != 90 {
		t.Errorf("stored success rate %v, want 90", success)
	}
	for _, v := range success {
		if v < 75 || v > 100 {
			t.Errorf("stored success rate %v, want about 90", success)
		}
	}
	// The calls take microseconds: avg_ms and p999_ms are there, rounded
	// to 0.001ms.
	for _, f := range []string{"avg_ms.wsp", "p999_ms.wsp"} {
		if vs := fetchValues(t, fetch, filepath.Join(node, f)); len(vs) == 0 || vs[0] < 0 || vs[0] > 100 {
			t.Errorf("stored %s: %v", f, vs)
		}
	}
}

func sum(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s
}

// fetchValues returns the values whisper-fetch prints for the last minute
// of path (none when the file or its values are not there yet).
func fetchValues(t *testing.T, fetch, path string) []float64 {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	out, err := exec.Command(fetch, "--from="+strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10), path).Output()
	if err != nil {
		t.Logf("whisper-fetch %s: %v", path, err)
		return nil
	}
	var vs []float64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || f[1] == "None" {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			vs = append(vs, v)
		}
	}
	return vs
}
