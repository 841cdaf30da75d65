package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/meshgate/meshgate/gateway/admin"
	"github.com/meshgate/meshgate/gateway/assembly"
	"github.com/meshgate/meshgate/gateway/config"
)

// reloader applies configurations to the running gateway for every
// trigger (SIGHUP, the management API, the file watch), one at a time,
// and logs each outcome.
type reloader struct {
	file string // -c FILE; "" for the embedded default
	o    *overrides
	gw   *assembly.Gateway
	log  *slog.Logger

	mu sync.Mutex
	// lastHash is the SHA-256 of the file content last read, applied or
	// not: the watch reloads when the file no longer has it.
	lastHash [sha256.Size]byte
}

// postedSource names a configuration sent in the body of POST /reload.
// Its relative paths are relative to the working directory.
const postedSource = "<POST /reload>"

// reload applies body (a YAML configuration) or, when body is nil,
// re-reads the configuration file (the embedded default without -c). It
// returns the generation serving afterwards: the new one, or the old one
// with the reason it still serves.
func (r *reloader) reload(trigger string, body []byte) (admin.Generation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		cfg *config.Config
		err error
	)
	if body != nil {
		cfg, err = config.Parse(postedSource, body)
	} else {
		var data []byte
		cfg, data, err = readConfig(r.file)
		if data != nil {
			r.lastHash = sha256.Sum256(data)
		}
	}
	if err == nil {
		r.o.apply(cfg, false)
		err = r.gw.Reload(cfg)
	}
	gen := r.gw.Generation()
	if err != nil {
		r.log.Error("meshgate: configuration not applied; the generation in force keeps serving",
			"trigger", trigger, "generation", gen.Number, "error", summary(err))
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				r.log.Error("meshgate: invalid configuration", "problem", p)
			}
		}
		return gen, err
	}
	r.log.Info("meshgate: configuration reloaded", "trigger", trigger, "generation", gen.Number, "source", gen.Source)
	return gen, nil
}

// summary is the first line of an error (a *config.Error lists its
// problems on the lines that follow, logged one by one).
func summary(err error) string {
	var ce *config.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("invalid configuration: %d problem(s), each logged below", len(ce.Problems))
	}
	return err.Error()
}

// watch polls the configuration file every interval until ctx ends and
// reloads when its content changes (by SHA-256, so that a rewrite of the
// same content or a touch does nothing). A file that cannot be read (being
// replaced) is tried again at the next poll; content that does not apply
// is logged once and waits for the next change.
func (r *reloader) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(r.file)
		if err != nil {
			r.log.Debug("meshgate: configuration file not readable; trying again", "file", r.file, "error", err)
			continue
		}
		sum := sha256.Sum256(data)
		r.mu.Lock()
		changed := sum != r.lastHash
		r.mu.Unlock()
		if changed {
			r.reload("file change", nil)
		}
	}
}
