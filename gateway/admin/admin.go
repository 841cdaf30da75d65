// Package admin is meshgate's management API: a small JSON API over
// net/http, served on its own listener (admin.listen, default
// 127.0.0.1:8002) by meshgate run. docs/admin.md documents every endpoint.
//
//	GET  /status                 version, uptime, generation, listeners, route counts
//	GET  /routes                 every route of every ingress
//	GET  /clusters               every cluster and its endpoints
//	GET  /switches               run-time switches
//	GET  /switches/{name}        one switch
//	PUT  /switches/{name}        {"on": true}
//	GET  /degrade/{route}        the switcher filter's switch of a route
//	PUT  /degrade/{route}        {"degraded": true}
//	POST /reload                 re-read the configuration, or apply the YAML body
//	GET  /explain?http=GET%20/v1/users/7 | ?grpc=/pkg.Svc/Method | ?motan2=service,group,method
//	GET  /commands               registry commands and discovery state (commands.go)
//	PUT  /commands/{cluster}     {"command": ...} set a static registry's command
//	POST /commands/{cluster}/dryrun  {"command": ...} the split a command would produce
//	GET  /metrics                Prometheus text format (metrics.go)
//
// Every answer is JSON; errors are {"error": "..."}. With a token, every
// request must carry "Authorization: Bearer TOKEN" (compared in constant
// time), or gets 401. Request bodies are limited to 1 MiB, the server has
// read, write and idle timeouts, and a panic in a handler is answered 500
// and logged, never taking the process down.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/internal/procs"
)

// MaxBodyBytes bounds request bodies (a configuration for POST /reload,
// a switch value for PUT).
const MaxBodyBytes = 1 << 20

// ReloadFunc applies a configuration and returns the generation serving
// afterwards. config is a YAML document to apply, or nil to re-read the
// configuration's source (the -c file). Errors: a *config.Error for an
// invalid configuration, an error with a RestartRequired() []string
// method for one that changes listeners, anything else for a
// configuration that could not be built; in every case the generation in
// force keeps serving.
type ReloadFunc func(ctx context.Context, config []byte) (Generation, error)

// Options configure the API.
type Options struct {
	// Gateway is what the API reads and acts on (required).
	Gateway Gateway
	// Reload serves POST /reload; nil answers 501.
	Reload ReloadFunc
	// Token, when set, is required as "Authorization: Bearer TOKEN".
	Token string
	// Version is reported by GET /status.
	Version string
	Logger  *slog.Logger
}

// Server is the management API: an http.Handler, and a server of its own
// started with Start.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	tokenSum [sha256.Size]byte

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Timeouts of the server Start runs. The write timeout leaves room for a
// reload, which loads schemas (a reflection load may take seconds).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
)

// New returns the API over o.Gateway.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{opts: o, log: o.Logger, mux: http.NewServeMux()}
	if o.Token != "" {
		s.tokenSum = sha256.Sum256([]byte(o.Token))
	}
	s.handle("/status", s.status, "GET")
	s.handle("/routes", s.routes, "GET")
	s.handle("/clusters", s.clusters, "GET")
	s.handle("/switches", s.switches, "GET")
	s.handle("/switches/{name}", s.switchOne, "GET", "PUT")
	s.handle("/degrade/{route...}", s.degrade, "GET", "PUT")
	s.handle("/reload", s.reload, "POST")
	s.handle("/explain", s.explain, "GET")
	s.handle("/metrics", s.metrics, "GET")                          // metrics.go
	s.handle("/commands", s.commands, "GET")                        // commands.go
	s.handle("/commands/{cluster}", s.commandOne, "PUT")            // commands.go
	s.handle("/commands/{cluster}/dryrun", s.commandDryRun, "POST") // commands.go
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no endpoint "+r.URL.Path+
			" (endpoints: /status, /routes, /clusters, /switches, /degrade/{route}, /reload, /explain, /commands, /metrics)")
	})
	return s
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h for path and methods: other methods get 405, an
// *Error its status, any other error 500.
func (s *Server) handle(path string, h handlerFunc, methods ...string) {
	allow := strings.Join(methods, ", ")
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		ok := false
		for _, m := range methods {
			ok = ok || r.Method == m
		}
		if !ok {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed for "+r.URL.Path+" (allowed: "+allow+")")
			return
		}
		if err := h(w, r); err != nil {
			var ae *Error
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &ae):
				writeError(w, ae.Status, ae.Message)
			case errors.As(err, &mbe):
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			default:
				s.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
				writeError(w, http.StatusInternalServerError, err.Error())
			}
		}
	})
}

// ServeHTTP serves the API: authentication, body limit and panic
// recovery around the endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("admin: handler panic", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	if s.opts.Token != "" && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshgate"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (send Authorization: Bearer TOKEN)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	s.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time: the digests of
// the two tokens are compared, so neither the content nor the length of
// the expected token shows in the timing.
func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

// Start listens on addr and serves the API in the background until
// Shutdown.
func (s *Server) Start(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.done = srv, l, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin: server stopped", "error", err)
		}
	}()
	return nil
}

// Addr returns the address Start listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the server started by Start: requests in flight may
// finish until ctx ends, then connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-done
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Endpoints.

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	gs := s.opts.Gateway.Status()
	listeners := make(map[string]string, len(gs.Listeners)+1)
	for k, v := range gs.Listeners {
		listeners[k] = v
	}
	if a := s.Addr(); a != nil {
		listeners["admin"] = a.String()
	}
	gs.Listeners = listeners
	up := time.Since(gs.StartedAt)
	sysmon := "go"
	if procs.SysmonSteady(os.Getenv("GODEBUG")) {
		sysmon = "steady"
	}
	writeJSON(w, http.StatusOK, Status{Version: s.opts.Version, Uptime: up.Round(time.Second).String(),
		UptimeSeconds: up.Seconds(), GOMAXPROCS: runtime.GOMAXPROCS(0), Sysmon: sysmon, GatewayStatus: gs, Traffic: s.traffic()})
	return nil
}

func (s *Server) routes(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.opts.Gateway.Routes())
	return nil
}

func (s *Server) clusters(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.opts.Gateway.Clusters())
	return nil
}

func (s *Server) switches(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"switches": s.opts.Gateway.Switches().List()})
	return nil
}

func (s *Server) switchOne(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	sw := s.opts.Gateway.Switches().Lookup(name)
	if sw == nil {
		return NotFound("no switch named %q (GET /switches lists them; a switch exists once a filter of the configuration declares it)", name)
	}
	if r.Method == "PUT" {
		var body struct {
			On *bool `json:"on"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		if body.On == nil {
			return BadRequest(`body must be {"on": true} or {"on": false}`)
		}
		old := sw.On()
		sw.Set(*body.On)
		s.log.Info("admin: switch set", "switch", name, "on", *body.On, "was", old, "remote", r.RemoteAddr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": sw.Name(), "on": sw.On()})
	return nil
}

func (s *Server) degrade(w http.ResponseWriter, r *http.Request) error {
	route := r.PathValue("route")
	if route == "" {
		return BadRequest("want /degrade/{route}: a route name (GET /routes lists them)")
	}
	list, err := s.opts.Gateway.DegradeSwitches(route)
	if err != nil {
		return err
	}
	switches := s.opts.Gateway.Switches()
	if r.Method == "PUT" {
		var body struct {
			Degraded *bool `json:"degraded"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		if body.Degraded == nil {
			return BadRequest(`body must be {"degraded": true} or {"degraded": false}`)
		}
		for _, d := range list {
			if sw := switches.Lookup(d.Switch); sw != nil {
				// Degraded while the switch equals When.
				sw.Set((d.When == "on") == *body.Degraded)
			}
		}
		s.log.Info("admin: route degrade set", "route", route, "degraded", *body.Degraded, "remote", r.RemoteAddr)
	}
	degraded := false
	for i := range list {
		d := &list[i]
		if sw := switches.Lookup(d.Switch); sw != nil {
			d.On = sw.On()
		}
		d.Degraded = d.On == (d.When == "on")
		degraded = degraded || d.Degraded
	}
	writeJSON(w, http.StatusOK, map[string]any{"route": route, "degraded": degraded, "switches": list})
	return nil
}

// decodeBody decodes a JSON request body strictly into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return BadRequest("missing JSON body")
		}
		return BadRequest("bad JSON body: %v", err)
	}
	return nil
}

// reloadAnswer is the body of POST /reload.
type reloadAnswer struct {
	Generation Generation `json:"generation"`
}

// reloadFailure is the body of a refused POST /reload.
type reloadFailure struct {
	Error string `json:"error"`
	// Problems are an invalid configuration's problems, each with its
	// file and line.
	Problems []string `json:"problems,omitempty"`
	// RestartRequired lists the changes a reload cannot apply.
	RestartRequired []string `json:"restart_required,omitempty"`
	// Generation is the generation still serving.
	Generation int64 `json:"generation"`
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Reload == nil {
		return &Error{Status: http.StatusNotImplemented, Message: "reload is not available"}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = nil
	}
	gen, err := s.opts.Reload(r.Context(), body)
	if err == nil {
		writeJSON(w, http.StatusOK, reloadAnswer{gen})
		return nil
	}
	f := reloadFailure{Error: err.Error(), Generation: s.opts.Gateway.Status().Generation.Number}
	status := http.StatusUnprocessableEntity
	var ce *config.Error
	var rr interface{ RestartRequired() []string }
	switch {
	case errors.As(err, &ce):
		status, f.Problems = http.StatusBadRequest, ce.Problems
	case errors.As(err, &rr):
		status, f.RestartRequired = http.StatusConflict, rr.RestartRequired()
	}
	writeJSON(w, status, f)
	return nil
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	e, err := s.opts.Gateway.Explain(q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

// parseQuery reads one of ?http=METHOD PATH, ?grpc=/pkg.Svc/Method and
// ?motan2=service,group,method.
func parseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	var set []string
	for _, k := range []string{"http", "grpc", "motan2"} {
		if v.Has(k) {
			set = append(set, k)
		}
	}
	sort.Strings(set)
	if len(set) != 1 {
		return Query{}, BadRequest(`want exactly one of ?http=METHOD%%20PATH, ?grpc=/package.Service/Method, ?motan2=service,group,method`)
	}
	q := Query{Ingress: set[0]}
	arg := v.Get(q.Ingress)
	switch q.Ingress {
	case "http":
		method, path, ok := strings.Cut(strings.TrimSpace(arg), " ")
		path = strings.TrimSpace(path)
		if !ok || method == "" || !strings.HasPrefix(path, "/") {
			return q, BadRequest("http=%q: want METHOD PATH, e.g. http=GET%%20/v1/users/7", arg)
		}
		q.Method, q.Path = strings.ToUpper(method), path
	case "grpc":
		if !strings.HasPrefix(arg, "/") || strings.Count(arg, "/") != 2 {
			return q, BadRequest("grpc=%q: want /package.Service/Method", arg)
		}
		q.FullMethod = arg
	case "motan2":
		parts := strings.Split(arg, ",")
		if len(parts) > 3 || parts[0] == "" {
			return q, BadRequest("motan2=%q: want service,group,method (group and method may be empty)", arg)
		}
		parts = append(parts, "", "")
		q.Service, q.Group, q.Method = parts[0], parts[1], parts[2]
	}
	return q, nil
}
