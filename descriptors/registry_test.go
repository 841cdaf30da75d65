package descriptors

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRegistrySwap(t *testing.T) {
	var r Registry
	if r.Current() != nil {
		t.Fatal("zero Registry has a snapshot")
	}
	s := compileShop(t)
	for want := uint64(1); want <= 3; want++ {
		pub := r.Swap(s)
		if pub.Version != want || r.Current() != pub {
			t.Fatalf("Swap #%d published version %d (current %p, returned %p)", want, pub.Version, r.Current(), pub)
		}
		if pub.Source != s.Source || pub.LoadedAt != s.LoadedAt {
			t.Error("published copy lost Source or LoadedAt")
		}
		if _, ok := pub.Method("/shop.v1.Library/GetBook"); !ok {
			t.Error("published copy cannot find methods")
		}
	}
	if s.Version != 0 {
		t.Errorf("Swap modified its argument: Version %d", s.Version)
	}
	defer func() {
		if recover() == nil {
			t.Error("Swap(nil) did not panic")
		}
	}()
	r.Swap(nil)
}

func TestReloadKeepsPreviousSnapshot(t *testing.T) {
	var r Registry
	if err := r.Reload(func() (*Snapshot, error) { return nil, errors.New("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("first failed load: %v", err)
	}
	if r.Current() != nil {
		t.Fatal("failed load published something")
	}
	if err := r.Reload(func() (*Snapshot, error) { return compileShop(t), nil }); err != nil {
		t.Fatal(err)
	}
	good := r.Current()
	if good.Version != 1 {
		t.Fatalf("version %d", good.Version)
	}

	broken := func() (*Snapshot, error) {
		return CompileProtos(context.Background(), []string{"testdata"}, []string{"broken/syntax.proto"})
	}
	for name, load := range map[string]func() (*Snapshot, error){
		"syntax error": broken,
		"nil snapshot": func() (*Snapshot, error) { return nil, nil },
		"panic":        func() (*Snapshot, error) { panic("loader bug") },
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Reload(load)
			if err == nil {
				t.Fatal("Reload succeeded")
			}
			if r.Current() != good {
				t.Fatal("previous snapshot replaced")
			}
			if !strings.Contains(err.Error(), "version 1 (protos:shop/v1/shop.proto) stays in force") {
				t.Errorf("error = %q", err)
			}
			t.Log(err)
		})
	}
	// The schema error is still reachable for the admin API.
	err := r.Reload(broken)
	var se *SchemaError
	if !errors.As(err, &se) || se.File != "broken/syntax.proto" || se.Line != 7 {
		t.Errorf("errors.As = %+v from %v", se, err)
	}
	// And the version after a good load continues from the last one.
	if err := r.Reload(func() (*Snapshot, error) { return LoadDescriptorSet(shopSet) }); err != nil {
		t.Fatal(err)
	}
	if v := r.Current().Version; v != 2 {
		t.Errorf("version after rejected reloads = %d, want 2", v)
	}
}

// TestConcurrentReadersDuringSwap: readers never see a nil or torn
// snapshot, and versions they observe never go backwards, while a writer
// swaps. Run with -race.
func TestConcurrentReadersDuringSwap(t *testing.T) {
	var r Registry
	a := compileShop(t)
	b, err := LoadDescriptorSet(shopSet)
	if err != nil {
		t.Fatal(err)
	}
	r.Swap(a)
	const readers, swaps = 4, 200
	var (
		wg   sync.WaitGroup
		stop atomic.Bool
		seen atomic.Int64
	)
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for !stop.Load() {
				s := r.Current()
				if s == nil {
					t.Error("nil snapshot")
					return
				}
				if s.Version < last {
					t.Errorf("version went back from %d to %d", last, s.Version)
					return
				}
				last = s.Version
				md, ok := s.Method("/shop.v1.Library/UpdateBook")
				if !ok || md.Input().Fields().ByName("book") == nil {
					t.Error("lookup failed mid-swap")
					return
				}
				seen.Add(1)
			}
		}()
	}
	var reloadErrs atomic.Int64
	var wwg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for i := 0; i < swaps; i++ {
				switch i % 3 {
				case 0:
					r.Swap(a)
				case 1:
					r.Swap(b)
				default:
					if r.Reload(func() (*Snapshot, error) { return nil, errors.New("bad") }) != nil {
						reloadErrs.Add(1)
					}
				}
			}
		}()
	}
	wwg.Wait()
	stop.Store(true)
	wg.Wait()
	if got, want := r.Current().Version, uint64(1+2*(swaps-swaps/3)); got != want {
		t.Errorf("final version %d, want %d", got, want)
	}
	if reloadErrs.Load() != 2*int64(swaps/3) {
		t.Errorf("%d failed reloads", reloadErrs.Load())
	}
	if seen.Load() == 0 {
		t.Error("readers did not run")
	}
}

func TestRefresh(t *testing.T) {
	var r Registry
	var calls atomic.Int64
	load := func() (*Snapshot, error) {
		if calls.Add(1)%2 == 0 {
			return nil, errors.New("upstream down")
		}
		return compileShop(t), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 100)
	done := make(chan error, 1)
	go func() { done <- r.Refresh(ctx, time.Millisecond, load, func(err error) { errs <- err }) }()

	deadline := time.After(10 * time.Second)
	for calls.Load() < 4 {
		select {
		case <-deadline:
			t.Fatal("Refresh did not reload")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh returned %v", err)
	}
	if r.Current() == nil || r.Current().Version == 0 {
		t.Error("no snapshot published")
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "upstream down") {
			t.Errorf("onErr got %v", err)
		}
	default:
		t.Error("onErr not called")
	}
	if err := r.Refresh(context.Background(), 0, load, nil); err == nil {
		t.Error("zero interval accepted")
	}
}
