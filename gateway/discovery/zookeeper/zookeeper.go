// Package zookeeper is the registry plugin "zookeeper": Motan's own
// ZooKeeper layout and URL format, the nodes motan-go and Java Motan read
// and write, so meshgate, motan-go agents and Java Motan share one
// registry:
//
//	/motan/GROUP/SERVICE/server/HOST:PORT             available entry (ephemeral)
//	/motan/GROUP/SERVICE/unavailableServer/HOST:PORT  registered, not available (ephemeral)
//	/motan/GROUP/command                              the group's command (persistent)
//	/motan/agent/APPLICATION/command                  an agent command (persistent)
//
// An entry's data is its URL (motan2://HOST:PORT/SERVICE?group=GROUP&...),
// as text or as a Java-serialized string; an entry without data stands
// for HOST:PORT of its name. Command data is Motan's command JSON, in
// either form too.
//
// Watches are set again after every reconnection; after a session loss
// (expiry) the registrations are written again in the new session.
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/telemetry/metrics"
)

func init() { discovery.RegisterPlugin(config.RegistryZooKeeper, Open) }

// Root is Motan's ZooKeeper namespace.
const Root = "/motan"

// Node types under a service.
const (
	nodeServer      = "server"
	nodeUnavailable = "unavailableServer"
)

// ServicePath returns the path of a service's entries of a node type
// ("server" or "unavailableServer").
func ServicePath(group, service, nodeType string) string {
	return Root + "/" + group + "/" + service + "/" + nodeType
}

// CommandPath returns the path of a command.
func CommandPath(k discovery.CommandKey) string {
	if k.Application != "" {
		return Root + "/agent/" + k.Application + "/command"
	}
	return Root + "/" + k.Group + "/command"
}

// CommandPath returns the node of a command (for logs).
func (r *Registry) CommandPath(k discovery.CommandKey) string { return CommandPath(k) }

// Registry is a ZooKeeper registry connection.
type Registry struct {
	name     string
	log      *slog.Logger
	conn     *zk.Conn
	javaData bool
	retry    time.Duration

	// kick wakes the session loop after each connection event.
	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup

	mu sync.Mutex
	// session is closed and replaced each time a session is
	// (re-)established: watches waiting to retry wake on it.
	session   chan struct{}
	sessionID int64
	timeout   time.Duration
	closed    bool
	bad       discovery.BadEntries

	regs *discovery.Registrations
}

type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

// Open connects to the servers of cfg (in the background: Open does not
// wait for a session).
func Open(cfg *config.Registry, log *slog.Logger) (discovery.Registry, error) {
	servers := discovery.Addresses(cfg.Address)
	if len(servers) == 0 {
		return nil, errors.New("address lists no ZooKeeper server")
	}
	r := &Registry{name: cfg.Name, log: log, javaData: cfg.NodeData == "java", retry: min(cfg.Timeout, time.Second),
		kick: make(chan struct{}, 1), done: make(chan struct{}), session: make(chan struct{}),
		regs: discovery.NewRegistrations(), timeout: cfg.Timeout}
	if r.retry <= 0 {
		r.retry = time.Second
	}
	conn, events, err := zk.Connect(servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{log}),
		zk.WithEventCallback(func(zk.Event) {
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		return nil, err
	}
	r.conn = conn
	r.wg.Add(3)
	go r.writer()
	go func() { // the callback does the work; the channel only needs draining
		defer r.wg.Done()
		for range events {
		}
	}()
	go r.sessionLoop()
	return r, nil
}

// sessionLoop notices new sessions: it wakes the watches and the writer
// waiting for one (the writer writes the registrations again when the
// session changed, the old one having expired) and counts expiries.
func (r *Registry) sessionLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case <-r.kick:
		}
		if r.conn.State() != zk.StateHasSession {
			continue
		}
		id := r.conn.SessionID()
		r.mu.Lock()
		prev := r.sessionID
		r.sessionID = id
		close(r.session)
		r.session = make(chan struct{})
		r.mu.Unlock()
		if prev != id && prev != 0 {
			metrics.RegistryEvent(r.name, "session_expired")
			r.log.Warn("ZooKeeper session was lost; a new one is established: registering again and watching again",
				"old_session", fmt.Sprintf("%#x", prev), "session", fmt.Sprintf("%#x", id))
		}
	}
}

// sessionChanged returns the channel closed at the next session event.
func (r *Registry) sessionChanged() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.session
}

// watcher runs body on a goroutine of its own until stop. body gets the
// done channel and deliver, which calls fn unless the watch was stopped;
// stop returns once no fn call runs or will run (body itself may still
// be waiting for a ZooKeeper answer: Close waits for it).
func (r *Registry) watcher(body func(done <-chan struct{}, deliver func(func()))) func() {
	done := make(chan struct{})
	var mu sync.Mutex
	stopped := false
	deliver := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			f()
		}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return func() {}
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		body(mergeDone(done, r.done), deliver)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			mu.Lock()
			stopped = true
			mu.Unlock()
		})
	}
}

// mergeDone returns a channel closed when either is.
func mergeDone(a, b <-chan struct{}) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		select {
		case <-a:
		case <-b:
		}
		close(c)
	}()
	return c
}

// pause waits before a retry: until the next session event, the retry
// interval, or done. It returns false when done.
func (r *Registry) pause(done <-chan struct{}) bool {
	t := time.NewTimer(r.retry)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-r.sessionChanged():
	case <-t.C:
	}
	return true
}

// wait waits for a watch event (or done). It returns false when done.
func wait(done <-chan struct{}, ev <-chan zk.Event) bool {
	select {
	case <-done:
		return false
	case <-ev:
		return true
	}
}

// WatchNodes implements discovery.Registry: it watches the children of
// /motan/GROUP/SERVICE/server.
func (r *Registry) WatchNodes(group, service string, fn func([]gateway.Endpoint)) func() {
	path := ServicePath(group, service, nodeServer)
	return r.watcher(func(done <-chan struct{}, deliver func(func())) {
		var last string
		first := true
		for {
			children, _, ev, err := r.conn.ChildrenW(path)
			if errors.Is(err, zk.ErrNoNode) {
				var ok bool
				ok, _, ev, err = r.conn.ExistsW(path)
				if err == nil && ok {
					continue // created in between
				}
				children = nil
			}
			if err != nil {
				r.failed(path, err)
				if !r.pause(done) {
					return
				}
				continue
			}
			eps, key, err := r.readNodes(group, service, path, children)
			if err != nil {
				r.failed(path, err)
				if !r.pause(done) {
					return
				}
				continue
			}
			if first || key != last {
				first, last = false, key
				deliver(func() { fn(eps) })
			}
			if !wait(done, ev) {
				return
			}
		}
	})
}

func (r *Registry) failed(path string, err error) {
	if errors.Is(err, zk.ErrClosing) {
		return
	}
	metrics.RegistryEvent(r.name, "error")
	r.log.Warn("ZooKeeper read failed; the last known state stays in force and the read is retried", "path", path, "error", err)
}

// readNodes reads the entries under path. An entry removed meanwhile is
// left out; a malformed one is logged and skipped; any other failure
// fails the whole read (a partial list must not shrink a cluster). key
// identifies the list, to deliver only changes.
func (r *Registry) readNodes(group, service, path string, children []string) ([]gateway.Endpoint, string, error) {
	eps := make([]gateway.Endpoint, 0, len(children))
	var key strings.Builder
	for _, child := range children {
		data, _, err := r.conn.Get(path + "/" + child)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		// Entries of any protocol are delivered (Endpoint.Protocol): each
		// subscription keeps those its cluster calls.
		u, err := nodeURL(group, service, child, data)
		if err != nil {
			metrics.RegistryEvent(r.name, "malformed")
			if r.bad.Note(path+"/"+child, data) {
				r.log.Error("malformed ZooKeeper entry skipped", "path", path+"/"+child, "error", err)
			}
			continue
		}
		eps = append(eps, u.Endpoint())
		key.WriteString(u.String())
		key.WriteByte('\n')
	}
	return eps, key.String(), nil
}

// nodeURL parses an entry: its data, or its name HOST:PORT when it has
// none (as motan-go reads entries without data).
func nodeURL(group, service, name string, data []byte) (*discovery.URL, error) {
	text, err := discovery.DecodeNodeData(data)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return discovery.ParseURL("motan2://" + name + "/" + service + "?group=" + group)
	}
	return discovery.ParseURL(strings.TrimSpace(text))
}

// WatchCommand implements discovery.Registry: it watches the data of the
// command node (a missing node is no command).
func (r *Registry) WatchCommand(k discovery.CommandKey, fn func(string)) func() {
	path := CommandPath(k)
	return r.watcher(func(done <-chan struct{}, deliver func(func())) {
		var last string
		first := true
		for {
			data, _, ev, err := r.conn.GetW(path)
			if errors.Is(err, zk.ErrNoNode) {
				var ok bool
				ok, _, ev, err = r.conn.ExistsW(path)
				if err == nil && ok {
					continue
				}
				data = nil
			}
			var text string
			if err == nil {
				if text, err = discovery.DecodeNodeData(data); err != nil {
					r.log.Error("malformed ZooKeeper command node skipped", "path", path, "error", err)
					if !wait(done, ev) {
						return
					}
					continue
				}
			}
			if err != nil {
				r.failed(path, err)
				if !r.pause(done) {
					return
				}
				continue
			}
			if first || text != last {
				first, last = false, text
				deliver(func() { fn(text) })
			}
			if !wait(done, ev) {
				return
			}
		}
	})
}

// WriteCommand writes a command node (creating it and its parents), for
// tests and tools; "" writes an empty command, which clears it.
func (r *Registry) WriteCommand(k discovery.CommandKey, text string) error {
	if _, err := discovery.ParseCommand(text); err != nil {
		return err
	}
	path := CommandPath(k)
	data := r.encode(text)
	if _, err := r.conn.Set(path, data, -1); err == nil || !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	if err := r.ensure(parent(path)); err != nil {
		return err
	}
	_, err := r.conn.Create(path, data, 0, zk.WorldACL(zk.PermAll))
	return err
}

func (r *Registry) encode(text string) []byte {
	if r.javaData {
		return discovery.EncodeJavaString(text)
	}
	return []byte(text)
}

func parent(path string) string { return path[:strings.LastIndexByte(path, '/')] }

// ensure creates path and its parents as persistent nodes.
func (r *Registry) ensure(path string) error {
	if path == "" {
		return nil
	}
	if ok, _, err := r.conn.Exists(path); err != nil || ok {
		return err
	}
	if err := r.ensure(parent(path)); err != nil {
		return err
	}
	if _, err := r.conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	return nil
}

// Register implements discovery.Registry: an ephemeral entry under
// unavailableServer. Registrations are written by a background writer
// (they never block on an unreachable ZooKeeper): retried until written,
// and written again in every new session.
func (r *Registry) Register(e discovery.Export) error { return r.regs.Register(e) }

// SetAvailable implements discovery.Registry: the entry moves between
// unavailableServer and server.
func (r *Registry) SetAvailable(e discovery.Export, available bool) error {
	return r.regs.SetAvailable(e, available)
}

// Deregister implements discovery.Registry.
func (r *Registry) Deregister(e discovery.Export) error { return r.regs.Deregister(e) }

// nodeType is the node type of an entry state ("" when removed).
func nodeType(s discovery.EntryState) string {
	switch s {
	case discovery.EntryAvailable:
		return nodeServer
	case discovery.EntryUnavailable:
		return nodeUnavailable
	}
	return ""
}

// writer writes the registrations: what changed since the last pass, and
// everything again in a new session. A failed write is retried after the
// retry interval or at the next session.
func (r *Registry) writer() {
	defer r.wg.Done()
	var session int64 // the session the registrations were written in
	var retry <-chan time.Time
	// The session channel is taken before the state is checked, so that
	// a session established in between still wakes the writer.
	sessionEvent := r.sessionChanged()
	for {
		select {
		case <-r.done:
			return
		case <-r.regs.Wake():
		case <-sessionEvent:
		case <-retry:
		}
		retry = nil
		sessionEvent = r.sessionChanged()
		if r.conn.State() != zk.StateHasSession {
			continue // the next session event wakes us
		}
		if id := r.conn.SessionID(); id != session {
			r.regs.Rewrite() // a new session: the old one's entries are gone
			session = id
		}
		err := r.regs.WritePending(r.name, func(reg discovery.Registration) error {
			return r.write(reg.Export, nodeType(reg.Want))
		})
		if err != nil {
			if !errors.Is(err, zk.ErrClosing) {
				metrics.RegistryEvent(r.name, "error")
				r.log.Warn("ZooKeeper registrations not written; retrying", "error", err)
			}
			retry = time.After(r.retry)
		}
	}
}

// Flush waits until every registration change is written, or ctx ends.
func (r *Registry) Flush(ctx context.Context) error {
	if err := r.regs.Flush(ctx); err != nil {
		return fmt.Errorf("ZooKeeper registrations not written: %w", err)
	}
	return nil
}

// write puts e's entry under the node type want (server or
// unavailableServer) and removes the other one; want "" removes both.
func (r *Registry) write(e discovery.Export, want string) error {
	g, s, addr := e.URL.Group, e.URL.Path, e.URL.Address()
	for _, t := range []string{nodeServer, nodeUnavailable} {
		if t == want {
			continue
		}
		if err := r.conn.Delete(ServicePath(g, s, t)+"/"+addr, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	if want == "" {
		return nil
	}
	dir := ServicePath(g, s, want)
	if err := r.ensure(dir); err != nil {
		return err
	}
	path := dir + "/" + addr
	data := r.encode(e.URL.String())
	_, err := r.conn.Create(path, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		// Ours from this session (written again), or an older session's
		// not expired yet: replace it so that it lives with ours.
		if err = r.conn.Delete(path, -1); err == nil || errors.Is(err, zk.ErrNoNode) {
			_, err = r.conn.Create(path, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		}
	}
	return err
}

// Close implements discovery.Registry: it stops the watches and closes
// the session (its ephemeral entries go with it).
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	// Removals first (bounded): the session's end would remove the
	// ephemeral entries too, but only once ZooKeeper notices.
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	err := r.Flush(ctx)
	cancel()
	close(r.done)
	r.conn.Close()
	r.wg.Wait()
	if err != nil && r.regs.HasRemovals() {
		return err
	}
	return nil
}

// Conn returns the ZooKeeper connection (tests).
func (r *Registry) Conn() *zk.Conn { return r.conn }
