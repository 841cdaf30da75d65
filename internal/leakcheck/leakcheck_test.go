package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestRunningSeesAndForgetsAGoroutine(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	found := false
	for _, g := range Running() {
		if strings.Contains(g, "TestRunningSeesAndForgetsAGoroutine") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the test's goroutine is not reported: %q", Running())
	}
	close(stop)
	<-done
	if leaks := Wait(5 * time.Second); len(leaks) != 0 {
		t.Fatalf("goroutines left after stopping: %q", leaks)
	}
}
