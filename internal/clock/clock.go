// Package clock reads the monotonic clock with one vDSO call. time.Now
// reads the wall and the monotonic clock, two calls of about 25 ns each on
// the development VM; the hot paths only need the monotonic one, for
// deadlines and durations.
package clock

import "time"

// Base is the origin of Mono: the process's start, about.
var Base = time.Now()

// Mono returns the nanoseconds since Base on the monotonic clock.
func Mono() int64 { return int64(time.Since(Base)) }

// At returns the time Mono read m: a time.Time with a monotonic reading,
// so comparisons, Sub and time.Until against other times with one use it.
func At(m int64) time.Time { return Base.Add(time.Duration(m)) }

// Now is time.Now for deadlines and durations: the result carries a
// monotonic reading, which comparisons, Sub and time.Until use. Its wall
// reading is Base's plus the monotonic time since, so it drifts from the
// system's wall clock by the adjustments made since the process started:
// do not log or export it.
func Now() time.Time { return At(Mono()) }
