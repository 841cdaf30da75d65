package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fakeClock is a monotonic clock tests move by hand.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newFakeClock() *fakeClock { return &fakeClock{base: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func TestBucketLayout(t *testing.T) {
	// Every bucket's range starts where the previous one ends, and bucketOf
	// maps both ends of each range back to it.
	var next uint64
	for i := 0; i < NumBuckets; i++ {
		lo, hi := bucketLow(i), bucketLow(i)+bucketWidth(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(hi - 1); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi-1, got, i)
		}
		if i >= subCount {
			if rel := float64(bucketWidth(i)/2) / float64(lo); rel > 1.0/(2*subCount)+1e-9 {
				t.Fatalf("bucket %d: half width %.4f of its low end", i, rel)
			}
		}
		next = hi
	}
	if next != maxValue {
		t.Fatalf("buckets end at %d, want %d", next, maxValue)
	}
	if got := bucketOf(math.MaxUint64); got != NumBuckets-1 {
		t.Fatalf("bucketOf(max) = %d, want the last bucket", got)
	}
	if _, hi := BucketBounds(NumBuckets - 1); hi < 100*time.Second {
		t.Fatalf("top bucket ends at %v, want at least 100s", hi)
	}
}

func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	r := int(math.Ceil(q * float64(len(sorted))))
	r = max(r, 1)
	return sorted[r-1]
}

func TestQuantileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := []struct {
		name string
		gen  func() time.Duration
	}{
		{"lognormal-ms", func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*1.2 + math.Log(3e6))) }},
		{"uniform-us", func() time.Duration { return time.Duration(1000 + rng.IntN(999_000)) }},
		{"bimodal", func() time.Duration {
			if rng.IntN(100) < 97 {
				return time.Duration(200_000 + rng.IntN(50_000))
			}
			return time.Duration(2e9 + rng.IntN(1e9))
		}},
		{"exponential-s", func() time.Duration { return time.Duration(rng.ExpFloat64() * 1e9) }},
	}
	qs := []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			clk := newFakeClock()
			w := NewWindowClock(6, 10*time.Second, clk.now)
			vals := make([]time.Duration, 50_000)
			var sum time.Duration
			for i := range vals {
				vals[i] = d.gen()
				sum += vals[i]
				w.Record(vals[i], i%10 == 0)
				if i%10_000 == 9_999 {
					clk.advance(time.Second)
				}
			}
			slices.Sort(vals)
			snap := w.Snapshot()
			if snap.Count != uint64(len(vals)) || snap.Failed != uint64(len(vals)/10) || snap.Sum != sum {
				t.Fatalf("snapshot count %d failed %d sum %v, want %d %d %v", snap.Count, snap.Failed, snap.Sum, len(vals), len(vals)/10, sum)
			}
			if got, want := snap.Mean(), sum/time.Duration(len(vals)); got != want {
				t.Errorf("Mean = %v, want %v", got, want)
			}
			if got := snap.SuccessRate(); math.Abs(got-0.9) > 1e-9 {
				t.Errorf("SuccessRate = %v, want 0.9", got)
			}
			for _, q := range qs {
				want := exactQuantile(vals, q)
				for _, got := range []time.Duration{snap.Quantile(q), w.Quantile(q)} {
					if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.032 {
						t.Errorf("q%v = %v, exact %v: relative error %.4f > 3.2%%", q, got, want, rel)
					}
				}
			}
		})
	}
}

func TestWindowExpiry(t *testing.T) {
	clk := newFakeClock()
	w := NewWindowClock(3, time.Second, clk.now)
	if s := w.Snapshot(); s.Count != 0 || s.Quantile(0.5) != 0 || s.Mean() != 0 || s.SuccessRate() != 1 || w.Quantile(0.99) != 0 {
		t.Fatalf("empty window: %+v", s)
	}
	// One slow request per slot, getting faster: 3 slots live at a time.
	steps := []struct {
		d         time.Duration
		wantCount uint64
		wantMax   time.Duration // approximately
	}{
		{100 * time.Millisecond, 1, 100 * time.Millisecond},
		{50 * time.Millisecond, 2, 100 * time.Millisecond},
		{20 * time.Millisecond, 3, 100 * time.Millisecond},
		{10 * time.Millisecond, 3, 50 * time.Millisecond}, // the 100ms slot expired
		{5 * time.Millisecond, 3, 20 * time.Millisecond},
	}
	for i, st := range steps {
		w.Record(st.d, false)
		s := w.Snapshot()
		if s.Count != st.wantCount || w.Count() != st.wantCount {
			t.Fatalf("step %d: count %d (Count() %d), want %d", i, s.Count, w.Count(), st.wantCount)
		}
		if got := w.Quantile(1); math.Abs(float64(got-st.wantMax))/float64(st.wantMax) > 0.032 {
			t.Fatalf("step %d: max %v, want about %v", i, got, st.wantMax)
		}
		clk.advance(time.Second)
	}
	// Span: the window is full (3 slots) and we are at the start of a slot.
	if s := w.Snapshot(); s.Span != 2*time.Second {
		t.Fatalf("span %v, want 2s", s.Span)
	}
	// A long silence empties the window, whichever slots still hold data.
	clk.advance(10 * time.Second)
	if s := w.Snapshot(); s.Count != 0 || w.Count() != 0 || w.Quantile(0.5) != 0 {
		t.Fatalf("after silence: count %d (Count() %d) quantile %v", s.Count, w.Count(), w.Quantile(0.5))
	}
	// A slot reused after a full turn starts from zero.
	w.Record(time.Millisecond, true)
	s := w.Snapshot()
	if s.Count != 1 || s.Failed != 1 || s.SuccessRate() != 0 {
		t.Fatalf("after reuse: %+v", s)
	}
	// The span of a young window is its age.
	clk2 := newFakeClock()
	w2 := NewWindowClock(6, 10*time.Second, clk2.now)
	clk2.advance(4 * time.Second)
	w2.Record(time.Millisecond, false)
	if s := w2.Snapshot(); s.Span != 4*time.Second || math.Abs(s.Rate()-0.25) > 1e-9 {
		t.Fatalf("young window: span %v rate %v", s.Span, s.Rate())
	}
}

func TestRecordEdgeValues(t *testing.T) {
	clk := newFakeClock()
	w := NewWindowClock(2, time.Second, clk.now)
	w.Record(-5, false)
	w.Record(0, false)
	w.Record(time.Hour, false)
	s := w.Snapshot()
	if s.Count != 3 {
		t.Fatalf("count %d", s.Count)
	}
	if q := s.Quantile(0); q != 0 {
		t.Errorf("min %v, want 0", q)
	}
	if q := s.Quantile(1); q < 100*time.Second {
		t.Errorf("max %v, want the overflow bucket (>= 100s)", q)
	}
	if q := s.Quantile(math.NaN()); q != 0 {
		t.Errorf("NaN quantile %v", q)
	}
	var m Summary
	m.Merge(s)
	m.Merge(s)
	if m.Count != 6 || m.Quantile(1) != s.Quantile(1) {
		t.Errorf("merge: %+v", m)
	}
}

func TestConcurrentRecord(t *testing.T) {
	clk := newFakeClock()
	w := NewWindowClock(4, time.Second, clk.now)
	const workers, per = 4, 20_000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// A reader and a clock mover run alongside the recorders.
	var readerDone sync.WaitGroup
	readerDone.Add(1)
	go func() {
		defer readerDone.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = w.Quantile(0.99)
			s := w.Snapshot()
			if s.Failed > s.Count+uint64(workers) {
				t.Errorf("failed %d > count %d", s.Failed, s.Count)
				return
			}
		}
	}()
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				w.Record(time.Duration(i%1000)*time.Microsecond, i%7 == 0)
				if g == 0 && i%5000 == 4999 {
					clk.advance(300 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readerDone.Wait()
	// Without clock moves nothing is lost.
	clk2 := newFakeClock()
	w2 := NewWindowClock(4, time.Second, clk2.now)
	var wg2 sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := 0; i < per; i++ {
				w2.Record(time.Millisecond, false)
			}
		}()
	}
	wg2.Wait()
	if s := w2.Snapshot(); s.Count != workers*per || s.Sum != workers*per*time.Millisecond {
		t.Fatalf("count %d sum %v, want %d", s.Count, s.Sum, workers*per)
	}
}

func TestRecordAllocs(t *testing.T) {
	w := NewWindow(6, 10*time.Second)
	if n := testing.AllocsPerRun(1000, func() { w.Record(time.Millisecond, false) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = w.Quantile(0.99) }); n != 0 {
		t.Fatalf("Quantile allocates %v times", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	w := NewWindow(6, 10*time.Second)
	now := time.Now()
	b.ReportAllocs()
	b.Run("RecordAt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			w.RecordAt(now, time.Duration(i&0xfffff), false)
		}
	})
	b.Run("Record", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w.Record(time.Duration(i&0xfffff), false)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				w.RecordAt(now, time.Duration(i&0xfffff), false)
				i++
			}
		})
	})
}

func BenchmarkQuantile(b *testing.B) {
	w := NewWindow(6, 10*time.Second)
	for i := 0; i < 100_000; i++ {
		w.Record(time.Duration(i)*time.Microsecond, false)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = w.Quantile(0.99)
	}
}

func TestCompleted(t *testing.T) {
	clk := newFakeClock()
	base := clk.now()
	clk.advance(2500 * time.Millisecond) // created in the middle of period 3
	w := NewWindowAt(4, time.Second, base, clk.now)
	var sum Summary
	if p := w.Completed(0, &sum); sum.Count != 0 || p != 2 {
		t.Fatalf("nothing recorded: period %d count %d", p, sum.Count)
	}
	w.Record(time.Millisecond, false) // period 3
	if p := w.Completed(2, &sum); p != 2 || sum.Count != 0 {
		t.Fatalf("period 3 not over: got period %d count %d", p, sum.Count)
	}
	clk.advance(time.Second) // period 4
	w.Record(2*time.Millisecond, true)
	w.Record(2*time.Millisecond, false)
	p := w.Completed(2, &sum)
	if p != 3 || sum.Count != 1 || sum.Span != time.Second {
		t.Fatalf("after period 3: period %d count %d span %v", p, sum.Count, sum.Span)
	}
	if end := w.PeriodEnd(p); !end.Equal(base.Add(3 * time.Second)) {
		t.Fatalf("PeriodEnd(3) = %v, want base+3s", end.Sub(base))
	}
	// Asked again within the same period: nothing new, nothing twice.
	if p2 := w.Completed(p, &sum); p2 != p || sum.Count != 0 {
		t.Fatalf("again: period %d count %d", p2, sum.Count)
	}
	// Two periods later, both come at once, the empty one counted in Span.
	clk.advance(2 * time.Second) // period 6
	p = w.Completed(p, &sum)
	if p != 5 || sum.Count != 2 || sum.Failed != 1 || sum.Span != 2*time.Second || math.Abs(sum.Rate()-1) > 1e-9 {
		t.Fatalf("periods 4-5: period %d %+v", p, sum)
	}
	// A reporter that fell behind gets only what is still in the window.
	clk.advance(10 * time.Second)
	w.Record(time.Millisecond, false)
	clk.advance(time.Second)
	p = w.Completed(5, &sum)
	if p != 16 || sum.Count != 1 || sum.Span != 3*time.Second {
		t.Fatalf("behind: period %d count %d span %v", p, sum.Count, sum.Span)
	}
	// Completed's periods start at the window's creation, not at base:
	// created in period 17, its first report is period 17 alone.
	w3 := NewWindowAt(4, time.Second, base, clk.now)
	w3.Record(time.Millisecond, false)
	clk.advance(time.Second)
	if p := w3.Completed(0, &sum); p != 17 || sum.Count != 1 || sum.Span != time.Second {
		t.Fatalf("young window: period %d count %d span %v", p, sum.Count, sum.Span)
	}
	// Snapshot's span starts at the window's creation, not at base.
	w2 := NewWindowAt(6, 10*time.Second, base, clk.now)
	clk.advance(time.Second)
	if s := w2.Snapshot(); s.Span != time.Second {
		t.Fatalf("span of a window created after base: %v", s.Span)
	}
}
