// Package stats keeps recent latency and outcome statistics cheaply enough
// to be fed on every request: a sliding window of log-linear latency
// histograms made of atomic counters.
//
// A Window is what the metrics filter feeds per route and per endpoint, what
// the management status page and the Graphite reporter read (the last
// minute's QPS, mean, quantiles and success rate), and what a hedging
// (backup request) policy asks for its delay (Window.Quantile).
package stats

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Bucket layout: log-linear over nanoseconds, HdrHistogram style. Values
// below subCount fall in exact one-nanosecond buckets; above, every power of
// two is split in subCount equal buckets, so a bucket's width is at most
// 1/subCount of its lower bound and its midpoint is within 1/(2*subCount)
// (about 3%) of any value in it. Values at or above maxValue are counted in
// the last bucket.
const (
	subBits  = 4
	subCount = 1 << subBits // buckets per power of two
	// maxExp is the exponent of the top octave: [2^(maxExp+subBits), 2^(maxExp+subBits+1)) ns,
	// that is up to about 137s.
	maxExp = 32
	// NumBuckets is the number of histogram buckets.
	NumBuckets = (maxExp + 2) * subCount
)

// maxValue is the first value counted in the overflow (last) bucket.
const maxValue = uint64(1) << (maxExp + subBits + 1)

// bucketOf returns the bucket index of a latency of v nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= maxValue {
		return NumBuckets - 1
	}
	exp := bits.Len64(v) - subBits - 1 // v>>exp is in [subCount, 2*subCount)
	return (exp+1)*subCount + int(v>>uint(exp)) - subCount
}

// bucketLow returns the smallest value of bucket i, in nanoseconds.
func bucketLow(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	exp := i/subCount - 1
	return uint64(subCount+i%subCount) << uint(exp)
}

// bucketWidth returns the number of nanosecond values bucket i holds.
func bucketWidth(i int) uint64 {
	if i < subCount {
		return 1
	}
	return uint64(1) << uint(i/subCount-1)
}

// bucketMid returns the value that stands for bucket i in quantiles: the
// middle of its range.
func bucketMid(i int) time.Duration {
	return time.Duration(bucketLow(i) + bucketWidth(i)/2)
}

// slot holds the records of one slotLen period (its epoch).
type slot struct {
	// epoch is the period number (time since the window's base divided by
	// slotLen) plus one, so that zero means "never used"; resetting is set
	// while a recorder clears the slot for a new epoch.
	epoch  atomic.Uint64
	count  atomic.Uint64
	failed atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	counts [NumBuckets]atomic.Uint32
}

// resetting marks a slot's epoch while it is being cleared.
const resetting = uint64(1) << 63

// Window keeps the latencies and outcomes of the last slots*slotLen (for
// example 6 x 10s, one minute) in log-linear buckets (about 3% relative
// precision from 1µs to about 137s) of atomic counters.
//
// Record never locks nor allocates: a slot that belongs to an old period is
// cleared lazily (a compare-and-swap on the slot's epoch elects who clears),
// normally ahead of its period by a Record of the period before. When a
// whole period passed without any Record, records that race with the
// clearing of their slot may be lost: a few samples after an idle period,
// not a bias. A Window is safe for concurrent use.
//
// The window covers the current, partial slot and the slots-1 before it, so
// it spans between (slots-1)*slotLen and slots*slotLen of time; Summary.Span
// says exactly how much, for rates.
type Window struct {
	slotLen time.Duration
	nslots  uint64
	base    time.Time
	created time.Duration // since base
	now     func() time.Time
	slots   []slot
}

// NewWindow returns a window of slots periods of slotLen each (at least 2
// slots of at least 1ms; smaller values are raised to that).
func NewWindow(slots int, slotLen time.Duration) *Window {
	return NewWindowClock(slots, slotLen, time.Now)
}

// NewWindowClock is NewWindow with the clock to use (tests inject one).
// now must be monotonic.
func NewWindowClock(slots int, slotLen time.Duration, now func() time.Time) *Window {
	return NewWindowAt(slots, slotLen, now(), now)
}

// NewWindowAt is NewWindowClock with the start of the window's first
// period: windows given the same base and slotLen have the same period
// boundaries, so that the periods Completed returns line up across them
// (the Graphite reporter merges windows). base must not be after now().
func NewWindowAt(slots int, slotLen time.Duration, base time.Time, now func() time.Time) *Window {
	if slots < 2 {
		slots = 2
	}
	if slotLen < time.Millisecond {
		slotLen = time.Millisecond
	}
	w := &Window{
		slotLen: slotLen,
		nslots:  uint64(slots),
		base:    base,
		now:     now,
		// One slot more than the window covers: the spare one is cleared
		// ahead of its period (see RecordAt).
		slots: make([]slot, slots+1),
	}
	t := now()
	w.created = max(t.Sub(base), 0)
	// The current period's slot is ready.
	e := w.epochAt(t)
	w.slots[e%uint64(len(w.slots))].epoch.Store(e)
	return w
}

// Length returns the time the window covers when full: slots*slotLen.
func (w *Window) Length() time.Duration { return w.slotLen * time.Duration(w.nslots) }

// epochAt returns the epoch (plus one) of instant t.
func (w *Window) epochAt(t time.Time) uint64 {
	d := t.Sub(w.base)
	if d < 0 {
		d = 0
	}
	return uint64(d/w.slotLen) + 1
}

// Record counts one request that took d and failed or not, at the window's
// clock's current time.
func (w *Window) Record(d time.Duration, failed bool) {
	w.RecordAt(w.now(), d, failed)
}

// RecordAt counts one request that took d and ended at end (a time read
// from the window's clock, typically the one the caller read to compute d:
// it saves reading the clock twice). A negative d counts as zero.
func (w *Window) RecordAt(end time.Time, d time.Duration, failed bool) {
	e := w.epochAt(end)
	s := &w.slots[e%uint64(len(w.slots))]
	if s.epoch.Load() != e && !w.prepare(s, e) {
		return // being cleared by another recorder, or already reused: drop
	}
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	s.counts[bucketOf(v)].Add(1)
	s.sum.Add(v)
	if failed {
		s.failed.Add(1)
	}
	s.count.Add(1)
	// Clear the next period's slot ahead of time, so that when its period
	// comes the recorders find it ready and none races with the clearing.
	if next := &w.slots[(e+1)%uint64(len(w.slots))]; next.epoch.Load()&^resetting < e+1 {
		w.prepare(next, e+1)
	}
}

// prepare clears slot s for epoch e unless it already serves e; it reports
// whether s serves e on return. Only one caller clears (the one whose
// compare-and-swap marks the slot resetting); the others return false.
func (w *Window) prepare(s *slot, e uint64) bool {
	cur := s.epoch.Load()
	if cur == e {
		return true
	}
	if cur&resetting != 0 || cur > e {
		return false
	}
	if !s.epoch.CompareAndSwap(cur, e|resetting) {
		return false
	}
	s.count.Store(0)
	s.failed.Store(0)
	s.sum.Store(0)
	for i := range s.counts {
		s.counts[i].Store(0)
	}
	s.epoch.Store(e)
	return true
}

// live reports whether slot epoch ep belongs to the window ending in epoch
// now.
func (w *Window) live(ep, now uint64) bool {
	return ep != 0 && ep&resetting == 0 && ep <= now && ep+w.nslots > now
}

// span returns how much time the window ending at t (in period e) covers:
// from the oldest live slot's start, or the window's creation, to t.
func (w *Window) span(t time.Time, e uint64) time.Duration {
	elapsed := t.Sub(w.base)
	first := uint64(1)
	if e > w.nslots {
		first = e - w.nslots + 1
	}
	start := max(time.Duration(first-1)*w.slotLen, w.created)
	if elapsed < start {
		return 0
	}
	return elapsed - start
}

// Summary is the content of a Window merged over its live slots.
type Summary struct {
	// Count is the number of requests recorded; Failed how many of them
	// failed.
	Count, Failed uint64
	// Sum is the total latency of the requests.
	Sum time.Duration
	// Span is the time the summary covers (for rates: Count/Span).
	Span time.Duration
	// Buckets are the counts per latency bucket (NumBuckets of them, see
	// BucketBounds); nil when Count is zero.
	Buckets []uint64
}

// Snapshot returns the window's content, merged over the live slots. It
// allocates the bucket array once; it is meant for status pages and
// reporters, not the request path (see Quantile).
func (w *Window) Snapshot() Summary {
	var sum Summary
	w.SnapshotTo(&sum)
	return sum
}

// SnapshotTo is Snapshot into sum, reusing its bucket array (a reporter
// that reads many windows allocates once).
func (w *Window) SnapshotTo(sum *Summary) {
	t := w.now()
	e := w.epochAt(t)
	sum.reset()
	sum.Span = w.span(t, e)
	for i := range w.slots {
		s := &w.slots[i]
		if w.live(s.epoch.Load(), e) {
			sum.add(s)
		}
	}
}

// Count returns the number of requests in the window: what Snapshot's
// Count says, for a few atomic loads per slot instead of every bucket's.
func (w *Window) Count() uint64 {
	e := w.epochAt(w.now())
	var n uint64
	for i := range w.slots {
		s := &w.slots[i]
		if w.live(s.epoch.Load(), e) {
			n += s.count.Load()
		}
	}
	return n
}

// reset empties s, keeping its bucket array.
func (s *Summary) reset() {
	b := s.Buckets
	clear(b)
	*s = Summary{Buckets: b}
}

// add merges slot sl into s.
func (s *Summary) add(sl *slot) {
	n := sl.count.Load()
	if n == 0 {
		return
	}
	if s.Buckets == nil {
		s.Buckets = make([]uint64, NumBuckets)
	}
	s.Count += n
	s.Failed += sl.failed.Load()
	s.Sum += time.Duration(sl.sum.Load())
	for j := range sl.counts {
		s.Buckets[j] += uint64(sl.counts[j].Load())
	}
}

// Period numbers the window's periods of slotLen: period p (from 1) is
// [base+(p-1)*slotLen, base+p*slotLen).
type Period = uint64

// Completed merges into sum (reusing its bucket array) the periods that
// ended after period after and are still in the window, and returns the
// last of them: a reporter that passes back what it got reports every
// period once, whatever its timer's jitter. Span is the time those periods
// cover (periods without records included). When no period ended since
// after, sum is empty and after is returned.
func (w *Window) Completed(after Period, sum *Summary) Period {
	sum.reset()
	cur := w.epochAt(w.now())
	last := cur - 1
	if last <= after || last == 0 {
		return after
	}
	first := after + 1
	if oldest := cur + 1 - min(cur, w.nslots); first < oldest { // the oldest live period
		first = oldest
	}
	// Periods before the window existed are not part of it.
	first = max(first, uint64(w.created/w.slotLen)+1)
	if first > last {
		return last
	}
	sum.Span = time.Duration(last-first+1) * w.slotLen
	for i := range w.slots {
		s := &w.slots[i]
		if ep := s.epoch.Load(); ep&resetting == 0 && ep >= first && ep <= last {
			sum.add(s)
		}
	}
	return last
}

// PeriodEnd returns when period p ends.
func (w *Window) PeriodEnd(p Period) time.Time {
	return w.base.Add(time.Duration(p) * w.slotLen)
}

// Quantile returns the q-quantile (0 <= q <= 1) of the latencies in the
// window, without allocating: 0 when the window is empty. It reads every
// bucket of the live slots (a few thousand atomic loads, microseconds):
// fine every few milliseconds, not on every request.
func (w *Window) Quantile(q float64) time.Duration {
	t := w.now()
	e := w.epochAt(t)
	var live [64]*slot // more slots than this are read via the fallback below
	n := 0
	var total uint64
	for i := range w.slots {
		s := &w.slots[i]
		if !w.live(s.epoch.Load(), e) || s.count.Load() == 0 {
			continue
		}
		if n == len(live) {
			sum := w.Snapshot()
			return sum.Quantile(q)
		}
		live[n] = s
		n++
	}
	if n == 0 {
		return 0
	}
	// Count the buckets rather than trusting the count fields, which a
	// concurrent Record may have moved between the two reads.
	for i := 0; i < n; i++ {
		for j := range live[i].counts {
			total += uint64(live[i].counts[j].Load())
		}
	}
	rank := rankOf(q, total)
	if rank == 0 {
		return 0
	}
	var cum uint64
	last := 0
	for j := 0; j < NumBuckets; j++ {
		var c uint64
		for i := 0; i < n; i++ {
			c += uint64(live[i].counts[j].Load())
		}
		if c == 0 {
			continue
		}
		last = j
		cum += c
		if cum >= rank {
			return bucketMid(j)
		}
	}
	return bucketMid(last)
}

// rankOf returns the 1-based rank of the q-quantile among total values (0
// when total is 0).
func rankOf(q float64, total uint64) uint64 {
	if total == 0 {
		return 0
	}
	if !(q > 0) { // also NaN
		return 1
	}
	if q >= 1 {
		return total
	}
	r := uint64(math.Ceil(q * float64(total)))
	if r < 1 {
		r = 1
	}
	if r > total {
		r = total
	}
	return r
}

// Quantile returns the q-quantile (0 <= q <= 1) of the latencies: the
// midpoint of the bucket that holds the value of rank ceil(q*Count), so
// within about 3% of the exact value. It returns 0 when Count is 0.
func (s *Summary) Quantile(q float64) time.Duration {
	var total uint64
	for _, c := range s.Buckets {
		total += c
	}
	rank := rankOf(q, total)
	if rank == 0 {
		return 0
	}
	var cum uint64
	for i, c := range s.Buckets {
		cum += c
		if c != 0 && cum >= rank {
			return bucketMid(i)
		}
	}
	return 0 // unreachable: cum reaches total
}

// Mean returns the average latency (0 when Count is 0).
func (s *Summary) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}

// SuccessRate returns the fraction of requests that did not fail, in
// [0, 1]; 1 when Count is 0 (nothing failed).
func (s *Summary) SuccessRate() float64 {
	if s.Count == 0 {
		return 1
	}
	if s.Failed >= s.Count {
		return 0
	}
	return float64(s.Count-s.Failed) / float64(s.Count)
}

// Rate returns requests per second over Span (0 when Span is 0).
func (s *Summary) Rate() float64 {
	if s.Span <= 0 {
		return 0
	}
	return float64(s.Count) / s.Span.Seconds()
}

// Merge adds o's counts to s (for example the routes of one service
// method). Span becomes the larger of the two.
func (s *Summary) Merge(o Summary) {
	s.Count += o.Count
	s.Failed += o.Failed
	s.Sum += o.Sum
	s.Span = max(s.Span, o.Span)
	if o.Buckets == nil {
		return
	}
	if s.Buckets == nil {
		s.Buckets = make([]uint64, NumBuckets)
	}
	for i, c := range o.Buckets {
		s.Buckets[i] += c
	}
}

// BucketBounds returns the range [low, high) of latencies bucket i counts
// (the last bucket also counts everything above).
func BucketBounds(i int) (low, high time.Duration) {
	return time.Duration(bucketLow(i)), time.Duration(bucketLow(i) + bucketWidth(i))
}
