package interop

// The motan-go half of the harness: a quiet logger for motan-go's vlog, a
// motan-go server (server.MotanServer + server.DefaultMessageHandler + an
// echo provider) and motan-go client endpoints (endpoint.MotanCommonEndpoint),
// all configured programmatically through core.URL, without config files,
// registries or the agent.

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	motan "github.com/weibocom/motan-go/core"
	"github.com/weibocom/motan-go/endpoint"
	vlog "github.com/weibocom/motan-go/log"
	mpro "github.com/weibocom/motan-go/protocol"
	"github.com/weibocom/motan-go/serialize"
	"github.com/weibocom/motan-go/server"
	"github.com/weibreeze/breeze-go"
)

// Services exported by the motan-go server.
const (
	echoService     = "com.meshgate.interop.EchoService"
	gzipEchoService = "com.meshgate.interop.GzipEchoService" // provider with mingzSize set
	unknownService  = "com.meshgate.interop.NoSuchService"
	// motanGoGzipSize is the mingzSize of gzipEchoService: replies with a
	// longer body are gzip-compressed by the motan-go server.
	motanGoGzipSize = 1024
)

// ---------------------------------------------------------------------------
// Logging

// quietLogger implements vlog.Logger. motan-go logs through a package-level
// logger that, when not initialised, prints through the standard log
// package, and whose default implementation writes rotating files into the
// working directory. quietLogger drops info/access/metrics logs and writes
// warnings and errors to os.Stderr only when INTEROP_MOTAN_LOG is set
// (several tests provoke errors that motan-go logs, e.g. unknown services).
type quietLogger struct {
	mu       sync.Mutex
	out      io.Writer
	warnings atomic.Int64
	errors   atomic.Int64
}

var motanLog = &quietLogger{}

func initMotanGoLogging() {
	if os.Getenv("INTEROP_MOTAN_LOG") != "" {
		motanLog.out = os.Stderr
	}
	// LogInit starts one flush ticker goroutine that lives for the whole
	// process; it must run before motan-go logs anything.
	vlog.LogInit(motanLog)
}

func (l *quietLogger) write(level, s string) {
	if l.out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "motan-go %s: %s\n", level, s)
}

func (l *quietLogger) Infoln(...interface{})        {}
func (l *quietLogger) Infof(string, ...interface{}) {}
func (l *quietLogger) Warningln(a ...interface{}) {
	l.warnings.Add(1)
	l.write("WARN", fmt.Sprint(a...))
}
func (l *quietLogger) Warningf(f string, a ...interface{}) {
	l.warnings.Add(1)
	l.write("WARN", fmt.Sprintf(f, a...))
}
func (l *quietLogger) Errorln(a ...interface{}) {
	l.errors.Add(1)
	l.write("ERROR", fmt.Sprint(a...))
}
func (l *quietLogger) Errorf(f string, a ...interface{}) {
	l.errors.Add(1)
	l.write("ERROR", fmt.Sprintf(f, a...))
}
func (l *quietLogger) Fatalln(a ...interface{})           { l.Errorln(a...) }
func (l *quietLogger) Fatalf(f string, a ...interface{})  { l.Errorf(f, a...) }
func (l *quietLogger) AccessLog(*vlog.AccessLogEntity)    {}
func (l *quietLogger) MetricsLog(string)                  {}
func (l *quietLogger) Flush()                             {}
func (l *quietLogger) SetAsync(bool)                      {}
func (l *quietLogger) GetLevel() vlog.LogLevel            { return vlog.WarnLevel }
func (l *quietLogger) SetLevel(vlog.LogLevel)             {}
func (l *quietLogger) SetAccessStructured(bool)           {}
func (l *quietLogger) GetAccessLogAvailable() bool        { return false }
func (l *quietLogger) SetAccessLogAvailable(bool)         {}
func (l *quietLogger) GetMetricsLogAvailable() bool       { return false }
func (l *quietLogger) SetMetricsLogAvailable(status bool) {}

// ---------------------------------------------------------------------------
// Server

// extFactory holds motan-go's serializations; the server picks the
// serialization of each request by the number in its header.
var extFactory = func() motan.ExtensionFactory {
	f := &motan.DefaultExtensionFactory{}
	f.Initialize()
	serialize.RegistDefaultSerializations(f)
	return f
}()

// echoProvider is a motan-go provider (motan.Provider) with these methods:
//
//	echo      returns its only argument, or all arguments as []interface{}
//	          when there are several (nil when there are none)
//	throw     returns an exception: errcode, errmsg, errtype from the three
//	          arguments if given, else 503/"boom"/2
//	wiresize  returns the body size of the request as it was on the wire
//	          (int64), to check that a request really travelled gzip'ed
//	void      returns no value
//	block     waits until the test closes blockers[caseKey], then returns
//	          "late reply" (to produce replies that arrive after a timeout)
//
// Any other method gets a 500 service exception. When the request carries
// the caseKey attachment, the decoded arguments are recorded in goSeen.
type echoProvider struct {
	url *motan.URL
}

func newEchoProvider(service string, params map[string]string) *echoProvider {
	if params == nil {
		params = map[string]string{}
	}
	return &echoProvider{url: &motan.URL{Protocol: "motan2", Path: service, Parameters: params}}
}

func (p *echoProvider) SetService(interface{})                 {}
func (p *echoProvider) GetRuntimeInfo() map[string]interface{} { return map[string]interface{}{} }
func (p *echoProvider) GetURL() *motan.URL                     { return p.url }
func (p *echoProvider) SetURL(u *motan.URL)                    { p.url = u }
func (p *echoProvider) IsAvailable() bool                      { return true }
func (p *echoProvider) Destroy()                               {}
func (p *echoProvider) GetPath() string                        { return p.url.Path }

func (p *echoProvider) Call(req motan.Request) motan.Response {
	res := &motan.MotanResponse{RequestID: req.GetRequestID(), RPCContext: &motan.RPCContext{}}
	wireSize := 0
	if rc := req.GetRPCContext(false); rc != nil {
		wireSize = rc.BodySize // set before the body is gunzipped
	}
	args, err := decodeAllArgs(req, false)
	if err != nil {
		res.Exception = &motan.Exception{ErrCode: 500, ErrMsg: "deserialize: " + err.Error(), ErrType: motan.ServiceException}
		return res
	}
	if name := req.GetAttachment(caseKey); name != "" {
		// Record a decoding of a copy of the body: motan-go's decoded byte
		// arrays alias the pooled request message, reused after the reply.
		seen, err := decodeAllArgs(req, true)
		if err != nil {
			seen = []interface{}{"record: " + err.Error()}
		}
		goSeen.Store(name, seen)
	}
	switch req.GetMethod() {
	case "echo":
		switch len(args) {
		case 0:
		case 1:
			res.Value = args[0]
		default:
			res.Value = args
		}
	case "throw":
		e := &motan.Exception{ErrCode: 503, ErrMsg: "boom", ErrType: motan.BizException}
		if len(args) == 3 {
			code, _ := toInt(args[0])
			msg, _ := args[1].(string)
			typ, _ := toInt(args[2])
			e = &motan.Exception{ErrCode: code, ErrMsg: msg, ErrType: typ}
		}
		res.Exception = e
	case "wiresize":
		res.Value = int64(wireSize)
	case "void":
	case "block":
		// Holds the reply until the test closes blockers[caseKey].
		ch, _ := blockers.Load(req.GetAttachment(caseKey))
		if ch, ok := ch.(chan struct{}); ok {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
			}
		}
		res.Value = "late reply"
	default:
		res.Exception = &motan.Exception{ErrCode: 500, ErrMsg: "no such method: " + req.GetMethod(), ErrType: motan.ServiceException}
	}
	return res
}

// blockers holds, by caseKey value, the channels that "block" calls wait on.
var blockers sync.Map

// decodeAllArgs decodes the arguments of req with its own serialization
// and no target types (motan-go's breeze serialization decodes nothing
// without target types, so breeze bodies are read value by value here).
// With fresh, a copy of the body is decoded, so that no value aliases the
// pooled request message.
func decodeAllArgs(req motan.Request, fresh bool) ([]interface{}, error) {
	raw := req.GetArguments()
	if len(raw) != 1 {
		return raw, nil
	}
	dv, ok := raw[0].(*motan.DeserializableValue)
	if !ok {
		return raw, nil
	}
	body := dv.Body
	if fresh {
		body = append([]byte(nil), body...)
	}
	if dv.Serialization.GetSerialNum() != serialize.BreezeNumber {
		return dv.Serialization.DeSerializeMulti(body, nil)
	}
	var out []interface{}
	buf := breeze.CreateBuffer(body)
	for buf.Remain() > 0 {
		v, err := breeze.ReadValue(buf, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func toInt(v interface{}) (int, bool) {
	switch x := v.(type) {
	case int16:
		return int(x), true
	case int32:
		return int(x), true
	case int64:
		return int(x), true
	case uint8:
		return int(x), true
	}
	return 0, false
}

// motanGoServer is a running motan-go server.
type motanGoServer struct {
	srv  *server.MotanServer
	Addr string // 127.0.0.1:port
}

// startMotanGoServer starts a motan-go MotanServer on 127.0.0.1 exporting
// echoService (plain) and gzipEchoService (mingzSize = motanGoGzipSize),
// with extra server URL parameters given as key, value pairs (e.g.
// maxContentLength),
// waits until it accepts connections and registers its shutdown with
// tb.Cleanup. Connections stay served until their clients close them.
func startMotanGoServer(tb testing.TB, params ...string) *motanGoServer {
	tb.Helper()
	return startMotanGoServerWith(tb, nil, params...)
}

// startMotanGoServerWith is startMotanGoServer with extra providers
// exported next to the echo services.
func startMotanGoServerWith(tb testing.TB, providers []motan.Provider, params ...string) *motanGoServer {
	tb.Helper()
	if len(params)%2 != 0 {
		tb.Fatal("startMotanGoServer: params must be key, value pairs")
	}
	handler := &server.DefaultMessageHandler{}
	handler.Initialize()
	handler.AddProvider(newEchoProvider(echoService, nil))
	handler.AddProvider(newEchoProvider(gzipEchoService, map[string]string{motan.GzipSizeKey: strconv.Itoa(motanGoGzipSize)}))
	for _, p := range providers {
		handler.AddProvider(p)
	}

	// MotanServer opens its own listener from URL.Port, so the port is
	// found with a throwaway listener first; the window in which another
	// process could take it is covered by retrying. nodeType=agent makes
	// motan-go listen on URL.Host (127.0.0.1) instead of every interface;
	// it changes nothing else in the server (proxy mode is a separate
	// argument of Open, false here).
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(tb)
		url := &motan.URL{
			Protocol:   "motan2",
			Host:       "127.0.0.1",
			Port:       port,
			Parameters: map[string]string{motan.NodeTypeKey: "agent"},
		}
		for i := 0; i < len(params); i += 2 {
			url.Parameters[params[i]] = params[i+1]
		}
		srv := &server.MotanServer{URL: url}
		if err := srv.Open(false, false, handler, extFactory); err != nil {
			lastErr = err
			continue
		}
		s := &motanGoServer{srv: srv, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		tb.Cleanup(srv.Destroy)
		waitDial(tb, s.Addr)
		return s
	}
	tb.Fatalf("cannot start motan-go server: %v", lastErr)
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// ---------------------------------------------------------------------------
// Client

// newMotanGoEndpoint returns an initialised motan-go client endpoint (the
// "motan2" endpoint motan-go's clusters use) for addr, with its connection
// pool already connected. params override the URL parameters, e.g.
// clientConnection, requestTimeout, mingzSize or serialization ("simple",
// the default, or "breeze"). The endpoint is destroyed
// by tb.Cleanup.
func newMotanGoEndpoint(tb testing.TB, addr string, params map[string]string) *endpoint.MotanCommonEndpoint {
	tb.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	p := map[string]string{
		motan.AsyncInitConnection:    "false", // connect in Initialize, not in the background
		motan.ClientConnectionKey:    "2",
		motan.TimeOutKey:             "5000", // ms; generous for -race
		motan.ErrorCountThresholdKey: "0",    // no keepalive goroutine after error replies
		motan.SerializationKey:       serialize.Simple,
	}
	for k, v := range params {
		p[k] = v
	}
	url := &motan.URL{Protocol: "motan2", Host: host, Port: port, Path: echoService, Parameters: p}
	ep := &endpoint.MotanCommonEndpoint{}
	ep.SetURL(url)
	ep.SetProxy(false)
	// The channels capture the serialization in Initialize.
	if p[motan.SerializationKey] == serialize.Breeze {
		ep.SetSerialization(&serialize.BreezeSerialization{})
	} else {
		ep.SetSerialization(&serialize.SimpleSerialization{})
	}
	ep.Initialize()
	tb.Cleanup(ep.Destroy)
	if !ep.IsAvailable() {
		tb.Fatalf("motan-go endpoint for %s did not connect", addr)
	}
	return ep
}

// motanGoCall makes one call through a motan-go endpoint. The reply value
// is decoded by motan-go with no target type, i.e. to its natural Go type.
func motanGoCall(ep motan.EndPoint, service, method string, args ...interface{}) motan.Response {
	req := &motan.MotanRequest{
		RequestID:   endpoint.GenerateRequestID(),
		ServiceName: service,
		Method:      method,
		Arguments:   args,
	}
	req.GetRPCContext(true)
	return ep.Call(req)
}

// motanGoHeartbeat sends one motan-go heartbeat (flags 0x12) to addr on a
// fresh motan-go channel and waits for its answer, using motan-go's own
// channel heartbeat API (the one its keepalive loop uses).
func motanGoHeartbeat(addr string) error {
	pool, err := endpoint.NewChannelPool(1, func() (net.Conn, error) {
		return net.DialTimeout("tcp", addr, time.Second)
	}, nil, &serialize.SimpleSerialization{}, false)
	if err != nil {
		return err
	}
	defer pool.Close()
	ch, err := pool.Get()
	if err != nil {
		return err
	}
	res, err := ch.HeartBeat(mpro.Version2)
	if err != nil {
		return err
	}
	if res == nil {
		return fmt.Errorf("heartbeat: nil response")
	}
	if e := res.GetException(); e != nil {
		return fmt.Errorf("heartbeat: exception %+v", e)
	}
	return nil
}
