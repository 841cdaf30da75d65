package clock

import (
	"testing"
	"time"
)

func TestNowFollowsTheMonotonicClock(t *testing.T) {
	a, m, b := time.Now(), Now(), time.Now()
	// m was read between a and b, on the monotonic clock they share.
	if m.Before(a) || b.Before(m) {
		t.Fatalf("Now() = %v not between %v and %v", m, a, b)
	}
	if d := time.Until(m.Add(time.Hour)); d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("time.Until(Now()+1h) = %v", d)
	}
	if x, y := Mono(), Mono(); y < x {
		t.Fatalf("Mono went back: %d then %d", x, y)
	}
	if got := At(0); !got.Equal(Base) {
		t.Fatalf("At(0) = %v, want %v", got, Base)
	}
}
