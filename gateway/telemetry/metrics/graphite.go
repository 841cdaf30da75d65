package metrics

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/gateway/stats"
)

// GraphiteOptions configure the Graphite reporter.
type GraphiteOptions struct {
	// Address is the carbon receiver's host:port.
	Address string
	// Protocol is "tcp" (default) or "udp".
	Protocol string
	// Interval is how often to report (default 10s). Each report holds the
	// window periods that ended since the previous one, so an interval
	// shorter than the Metrics' Period reports at most once per period.
	Interval time.Duration
	// Prefix starts every path (default "meshgate"); "{host}" in it is
	// replaced by the host name with dots turned into underscores.
	Prefix string
	// Timeout bounds a connection attempt and a write (default 5s).
	Timeout time.Duration
	// Logger logs connection and write errors, at most once a minute
	// (default slog.Default()).
	Logger *slog.Logger
}

// Graphite pushes, every interval, per upstream service and method (the
// routes calling one method merged), the numbers of the periods that just
// ended, in carbon's plaintext protocol:
//
//	PREFIX.SERVICE.METHOD.qps 12.5 1700000010
//	PREFIX.SERVICE.METHOD.avg_ms 3.2 1700000010
//	PREFIX.SERVICE.METHOD.success_rate 99.5 1700000010
//	PREFIX.SERVICE.METHOD.p999_ms 48.1 1700000010
//
// SERVICE and METHOD have every character other than letters, digits, '-'
// and '_' replaced by '_' (so "com.weibo.UserService" is one path node).
// The timestamp is the end of the reported periods. A method without
// calls in the periods reports qps 0 only. It reads the windows' atomics
// from its own goroutine, never touching the request path; a report that
// cannot be sent is dropped (the connection is dialled again for the
// next), and errors are logged at most once a minute.
type Graphite struct {
	m    *Metrics
	o    GraphiteOptions
	stop chan struct{}
	done chan struct{}

	// The rest is owned by the reporting goroutine (or by a test calling
	// report while none runs).
	conn net.Conn
	// last is the last period reported of each window; from is the last
	// period that had ended when the reporter started, where the windows
	// it has not reported yet begin: a reporter that a reload restarts
	// does not send again what its predecessor sent.
	last    map[*stats.Window]stats.Period
	from    stats.Period
	buf     []byte
	scratch stats.Summary
	errs    errorLimiter
}

// StartGraphite starts the reporter. Connection errors are not returned:
// the reporter dials at each report until the receiver answers.
func (m *Metrics) StartGraphite(o GraphiteOptions) (*Graphite, error) {
	g, err := m.newGraphite(o)
	if err != nil {
		return nil, err
	}
	go g.run()
	return g, nil
}

func (m *Metrics) newGraphite(o GraphiteOptions) (*Graphite, error) {
	if o.Protocol == "" {
		o.Protocol = "tcp"
	}
	if o.Protocol != "tcp" && o.Protocol != "udp" {
		return nil, fmt.Errorf("graphite: unknown protocol %q (tcp, udp)", o.Protocol)
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return nil, fmt.Errorf("graphite: address %q: %w", o.Address, err)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "meshgate"
	}
	if strings.Contains(o.Prefix, "{host}") {
		host, _ := os.Hostname()
		o.Prefix = strings.ReplaceAll(o.Prefix, "{host}", pathNode(host))
	}
	if o.Logger == nil {
		o.Logger = m.opts.Logger
	}
	return &Graphite{m: m, o: o, stop: make(chan struct{}), done: make(chan struct{}),
		last: map[*stats.Window]stats.Period{}, from: stats.Period(m.opts.Now().Sub(m.base) / m.opts.Period),
		errs: errorLimiter{every: time.Minute}}, nil
}

// Stop stops the reporter and closes its connection. The periods not
// reported yet are not sent.
func (g *Graphite) Stop() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
}

func (g *Graphite) run() {
	defer close(g.done)
	defer g.closeConn()
	t := time.NewTicker(g.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			if err := g.report(); err != nil {
				g.errs.log(g.o.Logger, "graphite: report not sent", "address", g.o.Address, "error", err)
			}
		}
	}
}

// group is one service method's merged periods.
type group struct {
	key    methodKey
	sum    stats.Summary
	period stats.Period
	w      *stats.Window
}

// report sends the periods that ended since the previous report.
func (g *Graphite) report() error {
	groups := map[methodKey]*group{}
	for _, rs := range g.m.routeStatsList() {
		for _, ms := range rs.methodList() {
			w := ms.window
			prev, ok := g.last[w]
			if !ok {
				prev = g.from
			}
			p := w.Completed(prev, &g.scratch)
			if p == prev {
				continue
			}
			g.last[w] = p
			gr := groups[ms.key]
			if gr == nil {
				gr = &group{key: ms.key, w: w}
				groups[ms.key] = gr
			}
			gr.sum.Merge(g.scratch)
			gr.period = max(gr.period, p)
		}
	}
	if len(groups) == 0 {
		return nil
	}
	list := make([]*group, 0, len(groups))
	for _, gr := range groups {
		list = append(list, gr)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].key.service != list[j].key.service {
			return list[i].key.service < list[j].key.service
		}
		return list[i].key.method < list[j].key.method
	})
	b := g.buf[:0]
	for _, gr := range list {
		path := g.o.Prefix + "." + pathNode(gr.key.service) + "." + pathNode(gr.key.method) + "."
		ts := strconv.FormatInt(gr.w.PeriodEnd(gr.period).Unix(), 10)
		line := func(metric string, v float64) {
			b = append(b, path...)
			b = append(b, metric...)
			b = append(b, ' ')
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
			b = append(b, ' ')
			b = append(b, ts...)
			b = append(b, '\n')
		}
		s := &gr.sum
		line("qps", round3(s.Rate()))
		if s.Count > 0 {
			line("avg_ms", round3(millis(s.Mean())))
			line("success_rate", round3(100*s.SuccessRate()))
			line("p999_ms", round3(millis(s.Quantile(0.999))))
		}
	}
	g.buf = b
	return g.send(b)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round3 keeps three decimals: carbon stores doubles, the lines stay
// short.
func round3(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	return r
}

// maxDatagram bounds a UDP datagram: lines are packed up to this size so
// that no datagram is fragmented on a common MTU.
const maxDatagram = 1400

// send writes b on the connection, dialling it first when needed.
func (g *Graphite) send(b []byte) error {
	if g.conn == nil {
		c, err := net.DialTimeout(g.o.Protocol, g.o.Address, g.o.Timeout)
		if err != nil {
			return err
		}
		g.conn = c
	}
	g.conn.SetWriteDeadline(time.Now().Add(g.o.Timeout))
	var err error
	if g.o.Protocol == "udp" {
		for len(b) > 0 && err == nil {
			n := len(b)
			if n > maxDatagram {
				// Cut after the last whole line that fits (a single line
				// longer than a datagram goes alone).
				n = bytes.LastIndexByte(b[:maxDatagram], '\n') + 1
				if n == 0 {
					n = bytes.IndexByte(b, '\n') + 1
				}
			}
			_, err = g.conn.Write(b[:n])
			b = b[n:]
		}
	} else {
		_, err = g.conn.Write(b)
	}
	if err != nil {
		g.closeConn()
	}
	return err
}

func (g *Graphite) closeConn() {
	if g.conn != nil {
		g.conn.Close()
		g.conn = nil
	}
}

// pathNode turns s into one Graphite path node.
func pathNode(s string) string {
	if s == "" {
		return "_"
	}
	ok := true
	for i := 0; i < len(s) && ok; i++ {
		ok = nodeChar(s[i])
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !nodeChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

func nodeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// errorLimiter logs an error at most once per every, with the count of
// those it kept quiet.
type errorLimiter struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *errorLimiter) log(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}
