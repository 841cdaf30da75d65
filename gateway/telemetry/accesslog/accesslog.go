// Package accesslog writes meshgate's access log: one structured line
// (JSON or logfmt) per request with its route, target, endpoint, status
// in both protocols (gRPC code name and HTTP status), latency, sizes,
// attempts, trace id and request id.
//
// The route-scope filter formats the line into a pooled buffer on the
// request's goroutine and hands it to a bounded queue that one writer
// goroutine drains; the request never waits for the output. A full queue
// drops the line and counts it; the count is logged periodically.
package accesslog

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Log.
type Options struct {
	// Buffer is how many lines may wait for the writer (default 8192).
	Buffer int
	// Logger receives the drop reports and write errors (default
	// slog.Default()).
	Logger *slog.Logger
	// ReportEvery is how often dropped lines are reported, when any were
	// (default 10s).
	ReportEvery time.Duration
}

// Log is an access log: its filters queue lines, its writer goroutine
// writes them. It is process-wide and outlives configuration generations;
// Close stops it.
type Log struct {
	out    io.Writer
	closer io.Closer
	log    *slog.Logger
	every  time.Duration

	queue    chan *[]byte
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	dropped  atomic.Uint64
	written  atomic.Uint64
	reported uint64 // drops already reported; writer goroutine only
	// failures counts the write errors since the last one logged
	// (writer goroutine only).
	failures int
}

// maxPooled is the capacity beyond which a line buffer is not pooled
// again (a line with a huge error message).
const maxPooled = 4 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// New starts a Log writing to out. When out is an io.Closer, Close closes
// it (pass a wrapper to keep stdout open).
func New(out io.Writer, o Options) *Log {
	if o.Buffer <= 0 {
		o.Buffer = 8192
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 10 * time.Second
	}
	l := &Log{out: out, log: o.Logger, every: o.ReportEvery,
		queue: make(chan *[]byte, o.Buffer), stop: make(chan struct{}), done: make(chan struct{})}
	l.closer, _ = out.(io.Closer)
	go l.run()
	return l
}

// Dropped counts the lines dropped because the queue was full.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written counts the lines handed to the output.
func (l *Log) Written() uint64 { return l.written.Load() }

// enqueue hands a formatted line to the writer, or drops it when the
// queue is full or the log closed.
func (l *Log) enqueue(b *[]byte) {
	select {
	case l.queue <- b:
	default:
		l.dropped.Add(1)
		putBuf(b)
	}
}

// Close writes the lines queued so far, reports drops not yet reported,
// closes the output when it is an io.Closer and returns its error. Lines
// queued after Close are lost; Close is idempotent.
func (l *Log) Close() error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

func (l *Log) run() {
	defer close(l.done)
	w := bufio.NewWriterSize(l.out, 64<<10)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	// A write error loses the buffered lines, and the writer is reset: a
	// bufio.Writer fails every later write once one failed, and the
	// output may recover (a file rotation that failed once). The first
	// error is logged, then at most one per report period, with the count
	// of those in between: a broken output must not flood the log.
	var quietUntil time.Time
	fail := func(err error) {
		w.Reset(l.out)
		l.failures++
		if now := time.Now(); now.After(quietUntil) {
			l.log.Error("access log: write failed, lines are being lost", "error", err, "failures", l.failures)
			l.failures, quietUntil = 0, now.Add(l.every)
		}
	}
	write := func(b *[]byte) {
		if _, err := w.Write(*b); err != nil {
			fail(err)
		}
		l.written.Add(1)
		putBuf(b)
	}
	flush := func() {
		if err := w.Flush(); err != nil {
			fail(err)
		}
	}
	for {
		select {
		case b := <-l.queue:
			write(b)
			// Drain what is queued, then flush once: one write per burst.
			for n := len(l.queue); n > 0; n-- {
				write(<-l.queue)
			}
			flush()
		case <-tick.C:
			l.reportDrops()
		case <-l.stop:
			for n := len(l.queue); n > 0; n-- {
				write(<-l.queue)
			}
			flush()
			l.reportDrops()
			return
		}
	}
}

func (l *Log) reportDrops() {
	if d := l.dropped.Load(); d != l.reported {
		l.log.Warn("access log: lines dropped, the output is slower than the requests",
			"dropped", d-l.reported, "dropped_total", d)
		l.reported = d
	}
}

// NopCloser wraps w so that Close does not close it (standard output).
func NopCloser(w io.Writer) io.Writer { return nopCloser{w} }

type nopCloser struct{ w io.Writer }

func (n nopCloser) Write(p []byte) (int, error) { return n.w.Write(p) }
