package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/upstream/lb"
	"github.com/meshgate/meshgate/internal/clock"
	"github.com/meshgate/meshgate/translate"
)

// This file is the protocol-neutral half of a cluster: the endpoint set
// (an immutable snapshot behind an atomic pointer, replaced whole when
// configuration or a registry changes it), the per-endpoint filter
// chains, load balancing through an lb.Picker, failover, backup (hedged)
// requests and the deadline budget. motan2.go and grpc.go supply the
// protocol half: a client per endpoint and the attempt that sends a call
// on it.

// HAOptions configures a cluster's failover and backup requests.
type HAOptions struct {
	// Retries is how many more endpoints a call that failed after it may
	// have reached an endpoint is sent to. Only calls marked idempotent
	// (gateway.Call.Idempotent) are, only after a failure whose code is in
	// RetryOn, and only within RetryBudget. A call that never left the
	// gateway (connection refused, endpoint closed, an endpoint filter
	// that answered by itself) moves on to the next endpoint whatever
	// this says: it cannot have done anything upstream.
	Retries int
	// RetryOn are the codes a sent attempt may be retried after (nil:
	// Unavailable only, the code of a lost connection or an endpoint that
	// refused the call).
	RetryOn []translate.Code
	// RetryBudget caps retries (calls sent again) at this fraction of the
	// cluster's calls, plus a reserve of BudgetReserve, so that a failing
	// upstream does not get its load multiplied (0: 0.1).
	RetryBudget float64
	// Backup enables backup requests (nil: off).
	Backup *BackupOptions
	// PreferDC, when set, keeps calls on the endpoints of that data
	// centre (gateway.Endpoint.DC) while any of them is available and not
	// yet tried; the other data centres take over only then. A traffic
	// split from a registry command (EndpointSet.GroupWeights) overrides
	// it.
	PreferDC string
}

// BackupOptions configures backup (hedged) requests: an idempotent call
// that has not been answered after the Percentile latency of its method
// is sent to a second endpoint too; the first answer wins and the other
// attempt is cancelled (a gRPC stream is reset, a Motan2 call forgotten).
type BackupOptions struct {
	// Percentile of the method's latency (over the last minute) after
	// which the backup is sent (0: 0.9).
	Percentile float64
	// Ratio caps backups at this fraction of the cluster's calls (0:
	// 0.05): backups cut the tail, they must not double the load.
	Ratio float64
	// MinDelay and MaxDelay bound the delay (0: 1ms and no bound).
	MinDelay, MaxDelay time.Duration
	// MinSamples is how many calls of a method the window must hold
	// before backups start for it (0: 50): no percentile without data.
	MinSamples int
}

// BudgetReserve is the number of retries and backups a cluster may spend
// beyond its ratio budgets: what a quiet cluster can retry at once.
const BudgetReserve = 10

// EndpointChain builds an endpoint's chain of filters in front of next
// (the attempt that sends on the endpoint); it returns the filters too,
// so the cluster can read their state (gateway.HealthReporter,
// gateway.StateReporter). Nil: no filters.
type EndpointChain func(ep gateway.Endpoint, next gateway.Invoker) (gateway.Invoker, []gateway.Filter, error)

// client is a protocol's client of one endpoint.
type client interface {
	// Available reports whether the client would rather be used: false
	// while its endpoint is marked down.
	Available() bool
	// State is the client's state for the management API ("" if none).
	State() string
	Close()
}

// endpoint is one endpoint of a cluster: its client, its chain, its live
// counters. It outlives endpoint sets that keep its address.
type endpoint struct {
	addr    string
	client  client
	invoker gateway.Invoker // the endpoint chain, ending in the attempt
	filters []gateway.Filter
	health  []gateway.HealthReporter

	active  atomic.Int64
	retired atomic.Bool
	closed  sync.Once
}

// acquire counts an attempt in; false if the endpoint was removed (the
// caller moves on: nothing was sent).
func (e *endpoint) acquire() bool {
	e.active.Add(1)
	if e.retired.Load() {
		e.release()
		return false
	}
	return true
}

// release counts an attempt out and closes a removed endpoint once its
// last attempt is done.
func (e *endpoint) release() {
	if e.active.Add(-1) == 0 && e.retired.Load() {
		e.closed.Do(e.client.Close)
	}
}

// retire removes the endpoint: it is closed when its attempts in flight
// are done.
func (e *endpoint) retire() {
	e.retired.Store(true)
	if e.active.Load() == 0 {
		e.closed.Do(e.client.Close)
	}
}

func (e *endpoint) available() bool {
	if !e.client.Available() {
		return false
	}
	for _, h := range e.health {
		if !h.Healthy() {
			return false
		}
	}
	return true
}

// member is an endpoint as one set sees it (weights and labels are the
// set's, the endpoint object is shared with later sets).
type member struct {
	*endpoint
	spec gateway.Endpoint
}

func (m *member) Weight() int     { return m.spec.EffectiveWeight() }
func (m *member) Active() int64   { return m.active.Load() }
func (m *member) Available() bool { return m.available() }

// Addr implements lb.Addresser: the hash ring places an endpoint by its
// address, so that a set change moves only the keys it must.
func (m *member) Addr() string { return m.spec.Addr }

// endpointSet is an immutable snapshot of a cluster's endpoints with the
// picker built over them.
type endpointSet struct {
	members []*member
	picker  lb.Picker
	groups  map[string]int
}

// core is what both cluster types share.
type core struct {
	name    string
	kind    string // "Motan2" or "gRPC", for messages
	log     *slog.Logger
	policy  lb.Policy
	ha      HAOptions
	retryOn uint64 // bit per translate.Code

	// newClient makes the client of a new endpoint; attempt is the
	// innermost invoker of its chain.
	newClient func(ep gateway.Endpoint) (client, error)
	attempt   func(ep *endpoint) gateway.Invoker
	chain     EndpointChain

	mu     sync.Mutex // serializes Update and Close
	closed bool
	set    atomic.Pointer[endpointSet]

	retryTokens, backupTokens budget
	latency                   latencies
	calls, retries, backups   atomic.Uint64
	attempts                  sync.Pool // *attemptState
}

// ClusterStats are a cluster's counters since it was built.
type ClusterStats struct {
	// Calls is the calls the cluster took, Retries the attempts sent
	// again after a failure that may have reached an endpoint, Backups
	// the backup requests sent.
	Calls, Retries, Backups uint64
}

func (c *core) init(name, kind string, policy string, ha HAOptions, chain EndpointChain, log *slog.Logger) error {
	c.name, c.kind, c.ha, c.chain = name, kind, ha, chain
	c.attempts.New = c.newState
	if log == nil {
		log = slog.Default()
	}
	c.log = log.With("cluster", name)
	if policy == "" {
		policy = "round_robin"
	}
	p, ok := lb.Lookup(policy)
	if !ok {
		return fmt.Errorf("cluster %q: unknown load-balancing policy %q (known: %s)", name, policy, strings.Join(lb.Names(), ", "))
	}
	c.policy = p
	on := ha.RetryOn
	if on == nil {
		on = []translate.Code{translate.Unavailable}
	}
	for _, code := range on {
		c.retryOn |= 1 << uint(code)
	}
	ratio := ha.RetryBudget
	if ratio <= 0 {
		ratio = 0.1
	}
	c.retryTokens.init(ratio)
	if b := ha.Backup; b != nil {
		c.ha.Backup = &BackupOptions{Percentile: b.Percentile, Ratio: b.Ratio, MinDelay: b.MinDelay, MaxDelay: b.MaxDelay, MinSamples: b.MinSamples}
		b = c.ha.Backup
		if b.Percentile <= 0 || b.Percentile >= 1 {
			b.Percentile = 0.9
		}
		if b.Ratio <= 0 {
			b.Ratio = 0.05
		}
		if b.MinDelay <= 0 {
			b.MinDelay = time.Millisecond
		}
		if b.MinSamples <= 0 {
			b.MinSamples = 50
		}
		c.backupTokens.init(b.Ratio)
	}
	c.set.Store(&endpointSet{picker: c.policy(nil)})
	return nil
}

// Update replaces the cluster's endpoints with set: endpoints whose
// address is kept keep their connections and filter state; new ones get
// a client and a chain (connecting lazily); removed ones are closed once
// their calls in flight are done. Calls already past their pick finish on
// the endpoints they picked. Update is safe to call at any time,
// concurrently with calls; after Close it does nothing.
func (c *core) Update(set gateway.EndpointSet) {
	if err := c.update(set); err != nil {
		c.log.Error("endpoint update not applied", "error", err)
	}
}

func (c *core) update(set gateway.EndpointSet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	old := c.set.Load()
	byAddr := make(map[string]*endpoint, len(old.members))
	for _, m := range old.members {
		byAddr[m.addr] = m.endpoint
	}
	next := &endpointSet{members: make([]*member, 0, len(set.Endpoints)), groups: set.GroupWeights}
	kept := make(map[string]bool, len(set.Endpoints))
	var fresh []*endpoint
	for _, spec := range set.Endpoints {
		if kept[spec.Addr] {
			continue // listed twice: the first entry counts
		}
		ep := byAddr[spec.Addr]
		if ep == nil {
			var err error
			if ep, err = c.newEndpoint(spec); err != nil {
				for _, f := range fresh {
					f.retire()
				}
				return err
			}
			fresh = append(fresh, ep)
		}
		kept[spec.Addr] = true
		next.members = append(next.members, &member{endpoint: ep, spec: spec})
	}
	eps := make([]lb.Endpoint, len(next.members))
	groupOf := make([]string, len(next.members))
	for i, m := range next.members {
		eps[i], groupOf[i] = m, m.spec.Group
	}
	switch {
	case len(set.GroupWeights) > 0:
		next.picker = lb.Grouped(eps, groupOf, set.GroupWeights, c.policy)
	case c.ha.PreferDC != "":
		dcOf := make([]string, len(next.members))
		for i, m := range next.members {
			dcOf[i] = m.spec.DC
		}
		next.picker = lb.Grouped(eps, dcOf, map[string]int{c.ha.PreferDC: 1}, c.policy)
	default:
		next.picker = c.policy(eps)
	}
	c.set.Store(next)
	removed := 0
	for addr, ep := range byAddr {
		if !kept[addr] {
			ep.retire()
			removed++
		}
	}
	if len(old.members) > 0 || removed > 0 {
		c.log.Info("endpoints updated", "endpoints", len(next.members), "added", len(fresh), "removed", removed)
	}
	if len(next.members) == 0 {
		c.log.Warn("cluster has no endpoints: calls fail with UNAVAILABLE until some are added")
	}
	return nil
}

func (c *core) newEndpoint(spec gateway.Endpoint) (*endpoint, error) {
	cl, err := c.newClient(spec)
	if err != nil {
		return nil, fmt.Errorf("%s cluster %q: endpoint %q: %w", c.kind, c.name, spec.Addr, err)
	}
	ep := &endpoint{addr: spec.Addr, client: cl}
	ep.invoker = c.attempt(ep)
	if c.chain != nil {
		inv, fs, err := c.chain(spec, ep.invoker)
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("%s cluster %q: endpoint %q: %w", c.kind, c.name, spec.Addr, err)
		}
		ep.invoker, ep.filters = inv, fs
		for _, f := range fs {
			if h, ok := f.(gateway.HealthReporter); ok {
				ep.health = append(ep.health, h)
			}
		}
	}
	return ep, nil
}

// close closes every endpoint's client.
func (c *core) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for _, m := range c.set.Load().members {
		m.endpoint.retired.Store(true)
		m.endpoint.closed.Do(m.client.Close)
	}
}

// Stats returns the cluster's counters.
func (c *core) Stats() ClusterStats {
	return ClusterStats{Calls: c.calls.Load(), Retries: c.retries.Load(), Backups: c.backups.Load()}
}

// EndpointStates returns the state of each endpoint of the set in force,
// in its order.
func (c *core) EndpointStates() []EndpointState {
	set := c.set.Load()
	out := make([]EndpointState, len(set.members))
	for i, m := range set.members {
		st := EndpointState{Address: m.addr, Available: m.available(), State: m.client.State(),
			Weight: m.spec.EffectiveWeight(), DC: m.spec.DC, Group: m.spec.Group, Active: m.active.Load()}
		for _, f := range m.filters {
			if r, ok := f.(gateway.StateReporter); ok {
				name, state := r.FilterState()
				st.Filters = append(st.Filters, FilterState{Name: name, State: state})
			}
		}
		out[i] = st
	}
	return out
}

// attemptState is the scratch of one call's attempts, pooled.
type attemptState struct {
	call  gateway.Call
	tried lb.Tried
	req   lb.Request
	log   [maxLoggedAttempts]attemptRecord
	n     int // attempts recorded (may exceed len(log))
}

const maxLoggedAttempts = 4

// attemptRecord is what a timeout or failure message says of an attempt.
type attemptRecord struct {
	addr       string
	start, end time.Time
	sent       bool
	backup     bool
	code       translate.Code
}

func (s *attemptState) record(r attemptRecord) {
	if s.n < len(s.log) {
		s.log[s.n] = r
	}
	s.n++
}

// invoke runs a call through the cluster: pick, attempt, failover,
// backup requests. Errors are *translate.Error values.
func (c *core) invoke(ctx context.Context, call *gateway.Call, reply *gateway.Reply) error {
	c.calls.Add(1)
	c.retryTokens.deposit()
	if c.ha.Backup != nil {
		c.backupTokens.deposit()
	}
	set := c.set.Load()
	if len(set.members) == 0 {
		return &translate.Error{Code: translate.Unavailable,
			Message: fmt.Sprintf("%s cluster %q has no endpoints", c.kind, c.name)}
	}
	began := clock.Now() // one vDSO call: deadlines and durations only
	start := call.Start
	if start.IsZero() {
		start = began
	}
	var deadline time.Time
	if call.Timeout > 0 {
		deadline = start.Add(call.Timeout)
	}
	if dl, ok := ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = dl
	}

	st := c.attempts.Get().(*attemptState)
	defer c.putState(st)
	st.req.Key = call.HashKey

	if c.ha.Backup != nil && call.Idempotent && len(set.members) > 1 {
		if delay := c.backupDelay(call); delay > 0 && (deadline.IsZero() || time.Until(deadline) > delay) {
			return c.hedged(ctx, set, call, reply, st, start, deadline, delay)
		}
	}

	retries := 0
	// last is the error of the last attempt; sent and sentAddr those of
	// the last attempt that may have reached its endpoint, which a failed
	// call reports (reply.Endpoint names its endpoint) rather than an
	// unreachable endpoint tried after it.
	var last, sent *translate.Error
	var sentAddr string
	for {
		i := set.picker.Pick(&st.req)
		if i < 0 {
			break
		}
		st.tried.Add(i)
		m := set.members[i]
		if !m.acquire() {
			// Removed since the pick: nothing was sent. A call that has
			// sent nothing yet moves to the set in force, which an
			// Update may have filled with endpoints all new to it.
			if cur := c.set.Load(); st.n == 0 && cur != set {
				set = cur
				st.tried.Reset()
			}
			continue
		}
		at := began // the first attempt starts now: one clock read saved
		if st.n > 0 {
			at = time.Now()
		}
		if !deadline.IsZero() && !at.Before(deadline) {
			m.release()
			resetReply(reply)
			return failed(reply, st, sentAddr, c.deadlineError(call, st, start, deadline, errOrNil(last)))
		}
		st.call = *call
		st.call.Start, st.call.Timeout, st.call.Attempt = time.Time{}, 0, st.n+1
		if !deadline.IsZero() {
			st.call.Timeout = deadline.Sub(at)
		}
		resetReply(reply)
		err := m.invoker.Invoke(ctx, &st.call, reply)
		m.release()
		if err == nil {
			// The success path records nothing but what backups need:
			// the records are for failure and timeout messages.
			if c.ha.Backup != nil {
				c.latency.record(call, time.Since(at))
			}
			n, _ := countSent(st)
			reply.Endpoint, reply.Attempts = m.addr, n+1
			return nil
		}
		wasSent := reply.Attempts > 0
		te := translate.FromError(err)
		st.record(attemptRecord{addr: m.addr, start: at, end: time.Now(), sent: wasSent, code: te.Code})
		last = te
		if wasSent {
			sent, sentAddr = te, m.addr
		}
		if ctx.Err() != nil {
			return failed(reply, st, sentAddr, c.finalError(call, st, start, deadline, te))
		}
		if !wasSent && te.Code != translate.DeadlineExceeded {
			continue // never left: the next endpoint may take it
		}
		if wasSent && call.Idempotent && retries < c.ha.Retries && c.retryOn&(1<<uint(te.Code)) != 0 &&
			st.tried.Len() < len(set.members) && c.retryTokens.take() {
			retries++
			c.retries.Add(1)
			continue
		}
		return failed(reply, st, sentAddr, c.finalError(call, st, start, deadline, te))
	}
	// Every endpoint was tried (or removed under the call).
	if sent != nil {
		return failed(reply, st, sentAddr, c.finalError(call, st, start, deadline, sent))
	}
	return failed(reply, st, sentAddr, &translate.Error{Code: translate.Unavailable, Cause: errOrNil(last),
		Message: fmt.Sprintf("no reachable endpoint in %s cluster %q (%d endpoints, %d tried)%s", c.kind, c.name, len(set.members), st.n, lastMessage(last))})
}

// failed sets a failed call's reply accounting: the endpoint of the
// error it returns (addr, "" when no attempt left the gateway) and the
// attempts sent; it returns err.
func failed(reply *gateway.Reply, st *attemptState, addr string, err error) error {
	reply.Endpoint = addr
	reply.Attempts, reply.Backups = countSent(st)
	return err
}

// errOrNil returns te as an error, nil (not a typed nil) for a nil te.
func errOrNil(te *translate.Error) error {
	if te == nil {
		return nil
	}
	return te
}

func lastMessage(te *translate.Error) string {
	if te == nil {
		return ""
	}
	return ": " + te.Message
}

// countSent returns how many of the call's attempts may have reached an
// endpoint and how many of those were backup requests: those that
// failed before they left do not count; those still running (a hedged
// call's losers, end not set yet) do.
func countSent(st *attemptState) (attempts, backups int) {
	for i := 0; i < st.n && i < len(st.log); i++ {
		if r := &st.log[i]; r.sent || r.end.IsZero() {
			attempts++
			if r.backup {
				backups++
			}
		}
	}
	if st.n > len(st.log) {
		attempts += st.n - len(st.log) // not logged: counted as sent
	}
	return attempts, backups
}

func (c *core) putState(st *attemptState) {
	st.call = gateway.Call{}
	st.tried.Reset()
	st.req = lb.Request{Tried: &st.tried}
	if st.n > 0 {
		st.log = [maxLoggedAttempts]attemptRecord{}
		st.n = 0
	}
	c.attempts.Put(st)
}

func (c *core) newState() any {
	st := &attemptState{}
	st.req.Tried = &st.tried
	return st
}

func resetReply(r *gateway.Reply) {
	*r = gateway.Reply{}
}

// finalError returns te, with a deadline's message saying where the time
// went.
func (c *core) finalError(call *gateway.Call, st *attemptState, start, deadline time.Time, te *translate.Error) error {
	if te.Code == translate.DeadlineExceeded && !deadline.IsZero() {
		return c.deadlineError(call, st, start, deadline, te)
	}
	return te
}

// deadlineError says that the call's deadline passed, and which stage
// used the time: the gateway before the first attempt, then each attempt.
func (c *core) deadlineError(call *gateway.Call, st *attemptState, start, deadline time.Time, cause error) error {
	src := call.TimeoutSource
	if src == "" {
		src = "route timeout"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deadline of %v (%s) exceeded calling %s: ", deadline.Sub(start).Round(time.Microsecond), src, c.target(call))
	first := time.Now()
	if st.n > 0 {
		first = st.log[0].start
	}
	fmt.Fprintf(&b, "%v in the gateway before the upstream call", first.Sub(start).Round(time.Microsecond))
	for i := 0; i < st.n && i < len(st.log); i++ {
		r := st.log[i]
		kind := "attempt"
		if r.backup {
			kind = "backup request"
		}
		state := "not sent"
		if r.sent {
			state = "sent"
		}
		fmt.Fprintf(&b, "; %s %d to %s (%s) took %v", kind, i+1, r.addr, state, r.end.Sub(r.start).Round(time.Microsecond))
		if r.code != translate.OK && r.code != translate.DeadlineExceeded {
			fmt.Fprintf(&b, " and failed with %s", r.code)
		}
	}
	if st.n == 0 {
		b.WriteString("; no attempt started")
	}
	return &translate.Error{Code: translate.DeadlineExceeded, Message: b.String(), Cause: cause}
}

func (c *core) target(call *gateway.Call) string {
	if call.FullMethod != "" {
		return call.FullMethod
	}
	if call.Frame != nil {
		return call.Frame.Service() + "." + call.Frame.Method()
	}
	return call.Service + "." + call.Method
}

// hedged runs an idempotent call with a backup request after delay: the
// first success wins and the other attempts are cancelled; failures that
// may move on (never sent, or retryable within the budgets) start the
// next attempt at once.
func (c *core) hedged(ctx context.Context, set *endpointSet, call *gateway.Call, reply *gateway.Reply, st *attemptState,
	start, deadline time.Time, delay time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // cancels the attempts still running when one wins

	type result struct {
		reply gateway.Reply
		err   error
		idx   int // into st.log
		start time.Time
		m     *member
	}
	// An attempt per endpoint at most (a picker never returns a tried
	// index), so no attempt ever blocks sending its result, also after
	// the call returned.
	results := make(chan *result, len(set.members))
	running := 0
	untried := func() bool { return st.tried.Len() < len(set.members) }
	launch := func(backup bool) bool {
		for {
			i := set.picker.Pick(&st.req)
			if i < 0 {
				return false
			}
			st.tried.Add(i)
			m := set.members[i]
			if !m.acquire() {
				// As in invoke: before any attempt, move to the set in
				// force (no attempt runs yet to use the old channel).
				if cur := c.set.Load(); st.n == 0 && cur != set {
					set = cur
					st.tried.Reset()
					results = make(chan *result, len(set.members))
				}
				continue
			}
			at := time.Now()
			if !deadline.IsZero() && !at.Before(deadline) {
				m.release()
				return false
			}
			ac := *call
			ac.Start, ac.Timeout, ac.Attempt, ac.Backup = time.Time{}, 0, st.n+1, backup
			if !deadline.IsZero() {
				ac.Timeout = deadline.Sub(at)
			}
			r := &result{idx: st.n, start: at, m: m}
			st.record(attemptRecord{addr: m.addr, start: at, backup: backup})
			running++
			ch := results
			go func() {
				r.err = m.invoker.Invoke(ctx, &ac, &r.reply)
				m.release()
				ch <- r
			}()
			return true
		}
	}
	if !launch(false) {
		return &translate.Error{Code: translate.Unavailable,
			Message: fmt.Sprintf("no reachable endpoint in %s cluster %q (%d endpoints)", c.kind, c.name, len(set.members))}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		dt := time.NewTimer(time.Until(deadline))
		defer dt.Stop()
		timeout = dt.C
	}
	retries := 0
	var firstErr *translate.Error
	var errAddr string // the endpoint that answered firstErr, if it was sent
	for running > 0 {
		select {
		case <-timer.C:
			if untried() && c.backupTokens.take() && launch(true) {
				c.backups.Add(1)
			}
		case <-timeout:
			timeout = nil // the attempts fail with DeadlineExceeded by themselves
		case r := <-results:
			running--
			end := time.Now()
			sent := r.reply.Attempts > 0
			if r.idx < len(st.log) {
				st.log[r.idx].end, st.log[r.idx].sent = end, sent
			}
			if r.err == nil {
				*reply = r.reply
				c.latency.record(call, end.Sub(r.start))
				reply.Endpoint = r.m.addr
				reply.Attempts, reply.Backups = countSent(st)
				return nil
			}
			te := translate.FromError(r.err)
			if r.idx < len(st.log) {
				st.log[r.idx].code = te.Code
			}
			// The first error, preferring one from an attempt that may
			// have reached its endpoint, and not the caller's cancel.
			if firstErr == nil || firstErr.Code == translate.Canceled || errAddr == "" && sent {
				firstErr, *reply, errAddr = te, r.reply, ""
				if sent {
					errAddr = r.m.addr
				}
			}
			if ctx.Err() != nil {
				continue
			}
			if (!sent && te.Code != translate.DeadlineExceeded) ||
				(sent && retries < c.ha.Retries && c.retryOn&(1<<uint(te.Code)) != 0 && untried() && c.retryTokens.take()) {
				if sent {
					retries++
					c.retries.Add(1)
				}
				launch(false)
			}
		}
	}
	return failed(reply, st, errAddr, c.finalError(call, st, start, deadline, firstErr))
}

// backupDelay returns the delay after which a call gets a backup request:
// the configured percentile of its method's recent latency, clamped; 0
// while the method has too few samples.
func (c *core) backupDelay(call *gateway.Call) time.Duration {
	b := c.ha.Backup
	d, n := c.latency.quantile(call, b.Percentile)
	if n < uint64(b.MinSamples) {
		return 0
	}
	if d < b.MinDelay {
		d = b.MinDelay
	}
	if b.MaxDelay > 0 && d > b.MaxDelay {
		d = b.MaxDelay
	}
	return d
}

// budget is a token bucket refilled by calls: each call deposits ratio
// tokens and each retry (or backup) takes one, with BudgetReserve tokens
// of headroom. Tokens are kept in thousandths.
type budget struct {
	tokens atomic.Int64
	per    int64 // deposited per call
	cap    int64
}

func (b *budget) init(ratio float64) {
	b.per = int64(ratio * 1000)
	if b.per < 1 {
		b.per = 1
	}
	b.cap = BudgetReserve * 1000
	b.tokens.Store(b.cap)
}

func (b *budget) deposit() {
	if b.tokens.Load() < b.cap {
		if b.tokens.Add(b.per) > b.cap {
			b.tokens.Store(b.cap)
		}
	}
}

func (b *budget) take() bool {
	for {
		t := b.tokens.Load()
		if t < 1000 {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-1000) {
			return true
		}
	}
}
