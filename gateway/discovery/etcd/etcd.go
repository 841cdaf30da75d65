// Package etcd is the registry plugin "etcd", with a layout of
// meshgate's own (Motan has no etcd registry) holding Motan's URL format
// and command format, so the same tools and the same entries work on both
// registries. Under the configured prefix (default /meshgate):
//
//	PREFIX/services/GROUP/SERVICE/HOST:PORT      available entry (a Motan URL; leased)
//	PREFIX/unavailable/GROUP/SERVICE/HOST:PORT   registered, not available (leased)
//	PREFIX/commands/GROUP                        the group's command (Motan command JSON)
//	PREFIX/agent-commands/APPLICATION            an agent command
//
// Registered entries live on a lease of session_timeout, kept alive while
// meshgate runs; when the lease is lost (etcd unreachable longer than the
// TTL) a new lease is granted and every entry written again. Watches
// resume after reconnections; a compacted watch reads the keys again.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/telemetry/metrics"
)

func init() { discovery.RegisterPlugin(config.RegistryEtcd, Open) }

// Registry is an etcd registry connection.
type Registry struct {
	name    string
	log     *slog.Logger
	cli     *clientv3.Client
	prefix  string
	ttl     int64
	timeout time.Duration

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	regs *discovery.Registrations
	bad  discovery.BadEntries // malformed entries logged
}

// kind is the key kind of an entry state ("" when removed).
func kind(s discovery.EntryState) string {
	switch s {
	case discovery.EntryAvailable:
		return "services"
	case discovery.EntryUnavailable:
		return "unavailable"
	}
	return ""
}

// Open connects to cfg's endpoints (without waiting for them).
func Open(cfg *config.Registry, log *slog.Logger) (discovery.Registry, error) {
	eps := discovery.Addresses(cfg.Address)
	if len(eps) == 0 {
		return nil, errors.New("address lists no etcd endpoint")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: cfg.Timeout, Logger: zap.NewNop(),
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: cfg.Timeout})
	if err != nil {
		return nil, err
	}
	ttl := int64(cfg.SessionTimeout / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	r := &Registry{name: cfg.Name, log: log, cli: cli, prefix: strings.TrimSuffix(cfg.Prefix, "/"), ttl: ttl, timeout: cfg.Timeout,
		regs: discovery.NewRegistrations()}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.writer()
	return r, nil
}

// NodeKey returns the key of an entry of a kind ("services" or
// "unavailable").
func (r *Registry) NodeKey(kind, group, service, addr string) string {
	return r.prefix + "/" + kind + "/" + group + "/" + service + "/" + addr
}

// CommandKey returns the key of a command.
func (r *Registry) CommandKey(k discovery.CommandKey) string {
	if k.Application != "" {
		return r.prefix + "/agent-commands/" + k.Application
	}
	return r.prefix + "/commands/" + k.Group
}

// CommandPath returns the key of a command (for logs).
func (r *Registry) CommandPath(k discovery.CommandKey) string { return r.CommandKey(k) }

// watch runs a read-then-watch loop on key (a prefix when prefix is set)
// until stop: read is called with the keys' values after the first read
// and after every change; failures are logged and retried.
func (r *Registry) watch(key string, prefix bool, read func(kvs map[string][]byte)) func() {
	ctx, cancel := context.WithCancel(r.ctx)
	var mu sync.Mutex
	stopped := false
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var opts []clientv3.OpOption
		if prefix {
			opts = append(opts, clientv3.WithPrefix())
		}
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			gctx, gcancel := context.WithTimeout(ctx, r.timeout)
			resp, err := r.cli.Get(gctx, key, opts...)
			gcancel()
			if err != nil {
				if ctx.Err() == nil {
					metrics.RegistryEvent(r.name, "error")
					r.log.Warn("etcd read failed; the last known state stays in force and the read is retried", "key", key, "error", err)
				}
				if !pause(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			kvs := make(map[string][]byte, len(resp.Kvs))
			for _, kv := range resp.Kvs {
				kvs[string(kv.Key)] = kv.Value
			}
			mu.Lock()
			if !stopped {
				read(kvs)
			}
			mu.Unlock()
			// Watch from the revision after the read: nothing is missed.
			wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			wch := r.cli.Watch(wctx, key, append(opts, clientv3.WithRev(resp.Header.Revision+1))...)
			changed := false
			for wr := range wch {
				if wr.Err() != nil || wr.Canceled {
					break // compacted, leader lost: read again
				}
				if len(wr.Events) > 0 {
					changed = true
					break
				}
			}
			wcancel()
			if !changed && !pause(ctx, backoff) {
				return
			}
		}
	}()
	return func() {
		cancel()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// WatchNodes implements discovery.Registry.
func (r *Registry) WatchNodes(group, service string, fn func([]gateway.Endpoint)) func() {
	dir := r.prefix + "/services/" + group + "/" + service + "/"
	var last string
	first := true
	return r.watch(dir, true, func(kvs map[string][]byte) {
		keys := make([]string, 0, len(kvs))
		for k := range kvs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		eps := make([]gateway.Endpoint, 0, len(keys))
		var sig strings.Builder
		for _, k := range keys {
			// Entries of any protocol are delivered (Endpoint.Protocol):
			// each subscription keeps those its cluster calls.
			u, err := discovery.ParseURL(strings.TrimSpace(string(kvs[k])))
			if err != nil {
				metrics.RegistryEvent(r.name, "malformed")
				if r.bad.Note(k, kvs[k]) {
					r.log.Error("malformed etcd entry skipped", "key", k, "error", err)
				}
				continue
			}
			eps = append(eps, u.Endpoint())
			sig.WriteString(u.String())
			sig.WriteByte('\n')
		}
		if !first && sig.String() == last {
			return
		}
		first, last = false, sig.String()
		fn(eps)
	})
}

// WatchCommand implements discovery.Registry.
func (r *Registry) WatchCommand(k discovery.CommandKey, fn func(string)) func() {
	key := r.CommandKey(k)
	var last string
	first := true
	return r.watch(key, false, func(kvs map[string][]byte) {
		text := string(kvs[key])
		if !first && text == last {
			return
		}
		first, last = false, text
		fn(text)
	})
}

// WriteCommand writes (or, with "", deletes) a command, for tests and
// tools.
func (r *Registry) WriteCommand(k discovery.CommandKey, text string) error {
	if _, err := discovery.ParseCommand(text); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	var err error
	if text == "" {
		_, err = r.cli.Delete(ctx, r.CommandKey(k))
	} else {
		_, err = r.cli.Put(ctx, r.CommandKey(k), text)
	}
	return err
}

// Register implements discovery.Registry (written in the background).
func (r *Registry) Register(e discovery.Export) error { return r.regs.Register(e) }

// SetAvailable implements discovery.Registry.
func (r *Registry) SetAvailable(e discovery.Export, available bool) error {
	return r.regs.SetAvailable(e, available)
}

// Deregister implements discovery.Registry.
func (r *Registry) Deregister(e discovery.Export) error { return r.regs.Deregister(e) }

// writer keeps the registrations written on a live lease.
func (r *Registry) writer() {
	defer r.wg.Done()
	var lease clientv3.LeaseID
	var lost <-chan *clientv3.LeaseKeepAliveResponse
	var kaCancel context.CancelFunc
	var retry <-chan time.Time
	defer func() {
		if kaCancel != nil {
			kaCancel()
		}
	}()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.regs.Wake():
		case <-retry:
		case _, ok := <-lost:
			if ok {
				continue // a keep-alive answer
			}
			if r.ctx.Err() != nil {
				return // closed: the keep-alive ended with the registry
			}
			metrics.RegistryEvent(r.name, "lease_lost")
			r.log.Warn("etcd lease lost; registering again on a new lease", "lease", fmt.Sprintf("%x", int64(lease)))
			lease, lost = 0, nil
			r.regs.Rewrite()
			kaCancel()
			kaCancel = nil
		}
		retry = nil
		var grantErr error // a pass tries one grant: etcd may be unreachable
		err := r.regs.WritePending(r.name, func(reg discovery.Registration) error {
			want := kind(reg.Want)
			if want != "" && lease == 0 {
				if grantErr != nil {
					return grantErr
				}
				if lease, lost, kaCancel, grantErr = r.grant(); grantErr != nil {
					return grantErr
				}
			}
			return r.write(reg.Export, want, lease)
		})
		if err != nil {
			r.writeFailed(err)
			retry = time.After(time.Second)
		}
	}
}

// grant grants a lease of the registry's TTL and keeps it alive: lost
// is closed when the lease is lost, cancel stops the keep-alive.
func (r *Registry) grant() (lease clientv3.LeaseID, lost <-chan *clientv3.LeaseKeepAliveResponse, cancel context.CancelFunc, err error) {
	ctx, cancelGrant := context.WithTimeout(r.ctx, r.timeout)
	g, err := r.cli.Grant(ctx, r.ttl)
	cancelGrant()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("lease not granted: %w", err)
	}
	kctx, cancel := context.WithCancel(r.ctx)
	if lost, err = r.cli.KeepAlive(kctx, g.ID); err != nil {
		cancel()
		return 0, nil, nil, fmt.Errorf("lease %x not kept alive: %w", int64(g.ID), err)
	}
	return g.ID, lost, cancel, nil
}

// writeFailed counts and logs a failed registration pass (not after
// Close: a write cut short by it is no failure).
func (r *Registry) writeFailed(err error) {
	if r.ctx.Err() != nil {
		return
	}
	metrics.RegistryEvent(r.name, "error")
	r.log.Warn("etcd registrations not written; retrying", "error", err)
}

func (r *Registry) write(e discovery.Export, want string, lease clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	g, s, addr := e.URL.Group, e.URL.Path, e.URL.Address()
	ops := []clientv3.Op{}
	for _, kind := range []string{"services", "unavailable"} {
		if kind != want {
			ops = append(ops, clientv3.OpDelete(r.NodeKey(kind, g, s, addr)))
		}
	}
	if want != "" {
		ops = append(ops, clientv3.OpPut(r.NodeKey(want, g, s, addr), e.URL.String(), clientv3.WithLease(lease)))
	}
	_, err := r.cli.Txn(ctx).Then(ops...).Commit()
	return err
}

// Flush waits until every registration change is written, or ctx ends.
func (r *Registry) Flush(ctx context.Context) error {
	if err := r.regs.Flush(ctx); err != nil {
		return fmt.Errorf("etcd registrations not written: %w", err)
	}
	return nil
}

// Close implements discovery.Registry: pending changes (the removals of
// a graceful shutdown) are written, bounded by the timeout, then the
// watches stop; entries still registered expire with their lease.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	ferr := r.Flush(ctx)
	cancel()
	r.cancel()
	r.wg.Wait()
	err := r.cli.Close()
	if ferr != nil && r.regs.HasRemovals() {
		return ferr
	}
	return err
}
