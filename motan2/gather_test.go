package motan2

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// writeCounter is a net.Conn that records each Write.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(bytes.Clone(p)))
	c.mu.Unlock()
	return len(p), nil
}

// The flusher keeps yielding while its yields bring new frames (callers
// that became ready meanwhile queue theirs), up to gatherYields yields and
// gatherBytes; a yield that brings nothing ends the gathering. Each yield
// here runs the callers that "became ready" during it.
func TestFlusherGathersWhileYieldsBringFrames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		joins  []int // frames queued during each yield
		size   int   // bytes per frame
		slow   bool  // each yield takes more than gatherTime
		yields int   // yields the flusher makes
		frames int   // frames in its one write (its own included)
	}{
		{"nothing else runs", []int{0}, 1, false, 1, 1},
		{"one round", []int{3, 0}, 1, false, 2, 4},
		{"rounds until one brings nothing", []int{1, 2, 1, 0, 5}, 1, false, 4, 5},
		{"at most gatherYields yields", repeat(1, gatherYields+3), 1, false, gatherYields, 1 + gatherYields},
		{"at most gatherBytes", []int{1, 1, 1, 1, 0}, gatherBytes / 2, false, 1, 2},
		// The time is counted from the end of the first yield.
		{"at most gatherTime after the first yield", []int{1, 1, 1, 1, 0}, 1, true, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wc := &writeCounter{}
			w := &frameWriter{nc: wc}
			frame := func(c byte) []byte { return bytes.Repeat([]byte{c}, tc.size) }
			round, next := 0, byte('a')
			w.yield = func() {
				if round >= len(tc.joins) {
					return
				}
				for j := 0; j < tc.joins[round]; j++ {
					if err := w.write(frame(next)); err != nil {
						t.Error(err)
					}
					next++
				}
				round++
				if tc.slow {
					time.Sleep(gatherTime + gatherTime/5)
				}
			}
			if err := w.write(frame('0')); err != nil {
				t.Fatal(err)
			}
			if round != tc.yields {
				t.Errorf("%d yields, want %d", round, tc.yields)
			}
			want := string(frame('0'))
			for c := byte('a'); c < next; c++ {
				want += string(frame(c))
			}
			if len(wc.writes) != 1 || wc.writes[0] != want {
				t.Fatalf("%d writes (%d bytes in the first), want one of %d frames in order", len(wc.writes), len(wc.writes[0]), tc.frames)
			}
			if int(next-'a')+1 != tc.frames {
				t.Fatalf("%d frames, want %d", int(next-'a')+1, tc.frames)
			}
		})
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
