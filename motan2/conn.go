package motan2

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// bufPool holds encode buffers. Buffers that grew past maxPooledBuf are
// dropped so one large frame does not pin memory forever.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// Bounds of the gathering of frames into one write (frameWriter.write).
const (
	gatherYields = 16
	gatherBytes  = 64 << 10
	gatherTime   = 500 * time.Microsecond
)

// monoBase is the origin of nanotime. (The package depends on the
// standard library only, so it keeps its own copy of what the gateway's
// internal/clock does.)
var monoBase = time.Now()

// nanotime reads the monotonic clock alone (one vDSO call; time.Now makes
// two).
func nanotime() int64 { return int64(time.Since(monoBase)) }

// now is time.Now for deadlines and durations, read with one vDSO call:
// the result carries a monotonic reading (all comparisons and time.Until
// use it), and its wall reading may drift from the system's by the wall
// clock's adjustments since the process started.
func now() time.Time { return monoBase.Add(time.Since(monoBase)) }

// frameWriter serializes writes of whole frames to one connection from many
// goroutines. Whoever finds the writer idle becomes the flusher and writes
// everything queued meanwhile in one syscall, so under load frames are
// batched without a dedicated writer goroutine, and at low load a frame is
// written by its own caller with no goroutine hand-off.
type frameWriter struct {
	nc      net.Conn
	timeout time.Duration // per write; 0 means none

	mu       sync.Mutex
	idle     sync.Cond // signalled when a flush ends; L is &mu
	pending  []byte    // frames queued while a flush is running
	deadline time.Time // write deadline currently set on nc
	spare    []byte
	writing  bool
	err      error // sticky: after a write error every write fails
	// forming is set while the flusher lets other callers queue frames
	// before it writes: a client with several connections sends new calls
	// to this one then, so that they share its write (Client.pick).
	forming atomic.Bool
	yield   func() // runtime.Gosched when nil; tests set it
}

// write queues frame and, if no flush is running, flushes. It returns the
// writer's sticky error, if any. frame is copied; the caller may reuse it.
func (w *frameWriter) write(frame []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.pending = append(w.pending, frame...)
	if w.writing {
		w.mu.Unlock()
		return nil
	}
	w.writing = true
	// Let goroutines that are ready to run (other callers) queue their
	// frames first, so that under load one write carries several frames:
	// measured through the HTTP gateway at 32 concurrent requests, one
	// yield cut Motan2 writes from 0.93 to 0.27 per request. The flusher
	// yields again as long as the last yield brought new frames (callers
	// that became ready meanwhile), within gatherYields, gatherBytes and
	// gatherTime (counted from the end of the first yield): 0.10 -> 0.04
	// writes per request, about -4% CPU (benchmarks/RESULTS.md). With nothing else runnable, Gosched
	// returns at once and nothing joins: the frame is written at once.
	w.forming.Store(true)
	var start int64
	for i := 0; i < gatherYields; i++ {
		n := len(w.pending)
		w.mu.Unlock()
		if w.yield != nil {
			w.yield()
		} else {
			runtime.Gosched()
		}
		w.mu.Lock()
		if len(w.pending) == n || len(w.pending) >= gatherBytes {
			break
		}
		if t := nanotime(); start == 0 {
			start = t
		} else if t-start > int64(gatherTime) {
			break
		}
	}
	w.forming.Store(false)
	for len(w.pending) > 0 {
		out := w.pending
		w.pending = w.spare[:0]
		w.mu.Unlock()

		if w.timeout > 0 {
			// Moving the deadline costs a timer update in the runtime, so
			// it is pushed out only once half of it has been used: a write
			// still gets between timeout/2 and timeout to complete.
			if t := now(); w.deadline.Sub(t) < w.timeout/2 {
				w.deadline = t.Add(w.timeout)
				w.nc.SetWriteDeadline(w.deadline)
			}
		}
		_, err := w.nc.Write(out)

		w.mu.Lock()
		if cap(out) <= 4*maxPooledBuf {
			w.spare = out[:0]
		} else {
			w.spare = nil
		}
		if err != nil {
			w.err = err
			w.pending = nil
			break
		}
	}
	w.writing = false
	if w.idle.L != nil {
		w.idle.Broadcast()
	}
	err := w.err
	w.mu.Unlock()
	return err
}

// flush waits until every frame queued so far is on the socket (or the
// writer failed). write returns as soon as its frame is queued behind a
// running flush, so a graceful close needs this before closing the socket.
func (w *frameWriter) flush() {
	w.mu.Lock()
	if w.idle.L == nil {
		w.idle.L = &w.mu
	}
	for w.writing {
		w.idle.Wait()
	}
	w.mu.Unlock()
}
