package discovery_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/gateway/config"
	"github.com/meshgate/meshgate/gateway/discovery"
	"github.com/meshgate/meshgate/gateway/discovery/static"
	"github.com/meshgate/meshgate/internal/leakcheck"
	"github.com/meshgate/meshgate/internal/testregistry"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    *discovery.URL
		wantErr string
	}{
		{in: "motan2://10.0.0.7:8002/com.example.Users?group=users-yf&nodeType=service&weight=30&dc=yf",
			want: &discovery.URL{Protocol: "motan2", Host: "10.0.0.7", Port: 8002, Path: "com.example.Users", Group: "users-yf",
				Params: map[string]string{"nodeType": "service", "weight": "30", "dc": "yf"}}},
		{in: "motan://[::1]:1/s?group=g&&x=", want: &discovery.URL{Protocol: "motan", Host: "::1", Port: 1, Path: "s", Group: "g",
			Params: map[string]string{"x": ""}}},
		{in: "10.0.0.7:8002/s", wantErr: "no protocol"},
		{in: "motan2://10.0.0.7:8002", wantErr: "no /service path"},
		{in: "motan2://10.0.0.7/s", wantErr: "missing port"},
		{in: "motan2://h:port/s", wantErr: "not a number"},
		{in: "motan2://h:70000/s", wantErr: "not a number"},
		{in: "motan2://h:1/s?group", wantErr: "not key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := discovery.ParseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			again, err := discovery.ParseURL(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
	u, _ := discovery.ParseURL("motan2://10.0.0.7:8002/s?weight=30&group=g&dc=yf&a=b")
	if got, want := u.String(), "motan2://10.0.0.7:8002/s?group=g&a=b&dc=yf&weight=30"; got != want {
		t.Errorf("String() = %q, want %q (group first, then sorted, as motan-go writes)", got, want)
	}
	ep := u.Endpoint()
	if ep.Addr != "10.0.0.7:8002" || ep.Weight != 30 || ep.DC != "yf" || ep.Group != "g" {
		t.Errorf("Endpoint() = %+v", ep)
	}
}

func TestNodeData(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name    string
		data    []byte
		want    string
		wantErr bool
	}{
		{name: "text", data: []byte("motan2://h:1/s?group=g"), want: "motan2://h:1/s?group=g"},
		{name: "empty", data: nil, want: ""},
		{name: "java", data: discovery.EncodeJavaString("motan2://h:1/s?group=g"), want: "motan2://h:1/s?group=g"},
		{name: "java long", data: discovery.EncodeJavaString(long), want: long},
		{name: "java truncated", data: discovery.EncodeJavaString("abc")[:8], wantErr: true},
		{name: "java object", data: []byte{0xac, 0xed, 0, 5, 0x73, 0, 0}, wantErr: true},
		{name: "magic only", data: []byte{0xac, 0xed}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := discovery.DecodeNodeData(tt.data)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("DecodeNodeData = %.40q, %v; want %.40q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	// The Java form is ObjectOutputStream's: magic, version 5, TC_STRING, length.
	if b := discovery.EncodeJavaString("ab"); binary.BigEndian.Uint16(b) != 0xaced || b[3] != 5 || b[4] != 0x74 || b[6] != 2 {
		t.Errorf("EncodeJavaString = % x", b)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"motan2://10.0.0.7:8002/com.example.Users?group=g&weight=3", "motan://[::1]:1/s?", "x://:0/a?=&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := discovery.ParseURL(s)
		if err != nil {
			return
		}
		u.Endpoint()
		if _, err := discovery.ParseURL(u.String()); err != nil && !strings.ContainsAny(s, "&=") {
			t.Fatalf("%q parsed but its String %q does not: %v", s, u.String(), err)
		}
	})
}

func FuzzDecodeNodeData(f *testing.F) {
	f.Add(discovery.EncodeJavaString("motan2://h:1/s?group=g"))
	f.Add([]byte("motan2://h:1/s"))
	f.Add([]byte{0xac, 0xed, 0, 5, 0x7c, 0, 0, 0, 0, 0, 0, 0, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := discovery.DecodeNodeData(b)
		if err == nil && len(s) > len(b) {
			t.Fatalf("decoded %d bytes out of %d", len(s), len(b))
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add(`{"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["a:1","b:2"],"routeRules":["10.* to !10.1.*"]}]}`)
	f.Add(`{"clientCommandList":[{"commandType":2,"pattern":"x:true"}]}`)
	f.Add(`{"clientCommandList":[{"commandType":1,"pattern":"com\\.(a|b)"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := discovery.ParseCommand(s)
		if err != nil || c == nil {
			return
		}
		a := discovery.Resolve("com.example.Svc", c)
		if a.Traffic != nil {
			discovery.ApplyTraffic("a", a.Traffic, map[string][]gateway.Endpoint{"a": {{Addr: "10.0.0.1:1"}}, "b": {{Addr: "10.1.0.1:1"}}}, "10.0.0.9")
		}
	})
}

const trafficCmd = `{"clientCommandList":[
 {"index":2,"version":"1.0","commandType":0,"dc":"yf","pattern":"*","mergeGroups":["other:1"],"routeRules":[],"remark":"lower priority"},
 {"index":1,"version":"1.0","commandType":0,"dc":"yf","pattern":"com.example","mergeGroups":["users-yf:30","users-tc:70"],"routeRules":[],"remark":"move 70% to tc"}]}`

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{name: "traffic", text: trafficCmd},
		{name: "empty is no command", text: "  "},
		{name: "degrade", text: `{"clientCommandList":[{"index":1,"commandType":1,"pattern":"com.example.Users"}]}`},
		{name: "switcher", text: `{"clientCommandList":[{"commandType":2,"pattern":"feature.a:true, feature.b:false"}]}`},
		{name: "regexp pattern", text: `{"clientCommandList":[{"commandType":1,"pattern":"^com\\.example\\.(Users|Orders)$"}]}`},
		{name: "not JSON", text: `{"clientCommandList":[`, wantErr: "not Motan command JSON"},
		{name: "unknown type", text: `{"clientCommandList":[{"commandType":7,"pattern":"*"}]}`, wantErr: "unknown commandType 7"},
		{name: "bad weight", text: `{"clientCommandList":[{"commandType":0,"pattern":"*","mergeGroups":["a:x"]}]}`, wantErr: `weight "x"`},
		{name: "empty group", text: `{"clientCommandList":[{"commandType":0,"pattern":"*","mergeGroups":[":3"]}]}`, wantErr: "group name is empty"},
		{name: "nothing to do", text: `{"clientCommandList":[{"commandType":0,"pattern":"*"}]}`, wantErr: "needs mergeGroups or routeRules"},
		{name: "bad rule", text: `{"clientCommandList":[{"commandType":0,"pattern":"*","routeRules":["10.* -> 11.*"]}]}`, wantErr: "not \"FROM to TO\""},
		{name: "empty pattern", text: `{"clientCommandList":[{"commandType":1}]}`, wantErr: "pattern is empty"},
		{name: "bad regexp", text: `{"clientCommandList":[{"commandType":1,"pattern":"com.(x"}]}`, wantErr: "neither a prefix nor a regular expression"},
		{name: "bad switcher", text: `{"clientCommandList":[{"commandType":2,"pattern":"a:maybe"}]}`, wantErr: "not name:true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := discovery.ParseCommand(tt.text)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func mustParse(t *testing.T, s string) *discovery.Command {
	t.Helper()
	c, err := discovery.ParseCommand(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolve(t *testing.T) {
	group := mustParse(t, trafficCmd)
	agent := mustParse(t, `{"clientCommandList":[{"index":9,"commandType":0,"pattern":"com.example.Users","mergeGroups":["agent-pick"]},
		{"index":1,"commandType":1,"pattern":"nomatch"}]}`)
	degrade := mustParse(t, `{"clientCommandList":[{"index":1,"commandType":1,"pattern":"^com\\.example\\.(Users|Orders)$","remark":"r"}]}`)
	tests := []struct {
		name        string
		service     string
		cmds        []*discovery.Command
		wantTraffic []string
		wantDegrade bool
	}{
		{name: "lowest index wins", service: "com.example.Users", cmds: []*discovery.Command{group}, wantTraffic: []string{"users-yf:30", "users-tc:70"}},
		{name: "prefix no match falls to star", service: "org.Other", cmds: []*discovery.Command{group}, wantTraffic: []string{"other:1"}},
		{name: "agent first", service: "com.example.Users", cmds: []*discovery.Command{agent, group}, wantTraffic: []string{"agent-pick"}},
		{name: "regexp degrade", service: "com.example.Orders", cmds: []*discovery.Command{degrade}, wantDegrade: true},
		{name: "regexp no match", service: "com.example.Ordersx", cmds: []*discovery.Command{degrade}},
		{name: "none", service: "x", cmds: []*discovery.Command{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := discovery.Resolve(tt.service, tt.cmds...)
			var got []string
			if a.Traffic != nil {
				got = a.Traffic.MergeGroups
			}
			if !reflect.DeepEqual(got, tt.wantTraffic) || (a.Degrade != nil) != tt.wantDegrade {
				t.Fatalf("traffic %v degrade %v; want %v %v", got, a.Degrade != nil, tt.wantTraffic, tt.wantDegrade)
			}
		})
	}
}

func TestApplyTraffic(t *testing.T) {
	eps := map[string][]gateway.Endpoint{
		"yf": {{Addr: "10.1.0.1:1"}, {Addr: "10.1.0.2:1"}},
		"tc": {{Addr: "10.2.0.1:1"}},
	}
	cc := func(groups []string, rules ...string) *discovery.ClientCommand {
		return &discovery.ClientCommand{CommandType: discovery.CommandTraffic, Pattern: "*", MergeGroups: groups, RouteRules: rules}
	}
	tests := []struct {
		name        string
		tc          *discovery.ClientCommand
		localIP     string
		wantAddrs   []string
		wantWeights map[string]int
		wantOK      bool
	}{
		{name: "no command", tc: nil, wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1"}, wantOK: true},
		{name: "weighted", tc: cc([]string{"yf:30", "tc:70"}), wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1", "10.2.0.1:1"},
			wantWeights: map[string]int{"yf": 30, "tc": 70}, wantOK: true},
		{name: "normalised", tc: cc([]string{"yf:0", "tc:500", "none"}), wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1", "10.2.0.1:1"},
			wantWeights: map[string]int{"yf": 1, "tc": 100, "none": 1}, wantOK: true},
		{name: "mixed", tc: cc([]string{"tc", "yf"}), wantAddrs: []string{"10.2.0.1:1", "10.1.0.1:1", "10.1.0.2:1"}, wantOK: true},
		{name: "all to tc", tc: cc([]string{"tc"}), wantAddrs: []string{"10.2.0.1:1"}, wantOK: true},
		{name: "route rule applies", tc: cc([]string{"yf", "tc"}, "10.9.* to 10.2.*"), localIP: "10.9.0.5", wantAddrs: []string{"10.2.0.1:1"}, wantOK: true},
		{name: "route rule negated", tc: cc([]string{"yf", "tc"}, "* to !10.2.*"), localIP: "1.1.1.1", wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1"}, wantOK: true},
		{name: "route rule other host", tc: cc([]string{"yf", "tc"}, "10.8.0.1 to 10.2.*"), localIP: "10.9.0.5", wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1", "10.2.0.1:1"}, wantOK: true},
		{name: "rules only: own group", tc: cc(nil, "* to 10.1.0.2"), wantAddrs: []string{"10.1.0.2:1"}, wantOK: true},
		{name: "empty falls back", tc: cc([]string{"gone:50"}), wantAddrs: []string{"10.1.0.1:1", "10.1.0.2:1"}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, ok := discovery.ApplyTraffic("yf", tt.tc, eps, tt.localIP)
			var addrs []string
			for _, ep := range set.Endpoints {
				addrs = append(addrs, ep.Addr)
			}
			if !reflect.DeepEqual(addrs, tt.wantAddrs) || !reflect.DeepEqual(set.GroupWeights, tt.wantWeights) || ok != tt.wantOK {
				t.Fatalf("got %v %v %v; want %v %v %v", addrs, set.GroupWeights, ok, tt.wantAddrs, tt.wantWeights, tt.wantOK)
			}
		})
	}
	split := discovery.Split(gateway.EndpointSet{Endpoints: []gateway.Endpoint{{Addr: "a", Group: "yf"}, {Addr: "b", Group: "tc"}, {Addr: "c", Group: "tc"}},
		GroupWeights: map[string]int{"yf": 30, "tc": 70}})
	if len(split) != 2 || split[0].Group != "tc" || split[0].Percent != 70 || split[1].Percent != 30 || split[0].Endpoints != 2 {
		t.Errorf("Split = %+v", split)
	}
}

func TestManagerStatic(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	switches := gateway.NewSwitches()
	feature := switches.Declare("feature.x", false)
	hub, err := discovery.NewHub([]config.Registry{{Name: "local", Type: "static", Timeout: time.Second, LocalIP: "10.0.0.1",
		Nodes: []config.StaticNode{
			{Group: "yf", Service: "Svc", Addr: "10.1.0.1:1"}, {Group: "yf", Service: "Svc", Addr: "10.1.0.2:1"},
			{Group: "tc", Service: "Svc", Addr: "10.2.0.1:1"},
		}}}, switches, log)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	reg := hub.Registry("local").(*static.Registry)
	mgr := hub.NewManager()
	defer mgr.Close()
	rec := testregistry.NewRecorder(5 * time.Second)
	gate := discovery.NewGate("users", nil)
	if err := mgr.Subscribe(discovery.Subscription{Cluster: "users", Registry: "local", Service: "Svc", Group: "yf", Target: rec, Gate: gate}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if w := mgr.WaitReady(ctx); len(w) > 0 {
		t.Fatalf("not ready: %v", w)
	}
	rec.WaitUntil(t, "own group", func(s gateway.EndpointSet) bool { return testregistry.Addrs(s) == "yf/10.1.0.1:1,yf/10.1.0.2:1" })

	set := func(cmd string) {
		t.Helper()
		if err := reg.SetCommand(discovery.CommandKey{Group: "yf"}, cmd); err != nil {
			t.Fatal(err)
		}
	}
	set(`{"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["yf:20","tc:80"]}]}`)
	got, _ := rec.WaitUntil(t, "merged groups", func(s gateway.EndpointSet) bool { return len(s.Endpoints) == 3 })
	if !reflect.DeepEqual(got.GroupWeights, map[string]int{"yf": 20, "tc": 80}) {
		t.Fatalf("group weights %v", got.GroupWeights)
	}
	dr, err := mgr.DryRun(ctx, "users", `{"clientCommandList":[{"commandType":0,"pattern":"*","mergeGroups":["tc"]}]}`)
	if err != nil || len(dr.Endpoints) != 1 || dr.Endpoints[0] != "tc/10.2.0.1:1" || dr.Split[0].Percent != 100 {
		t.Fatalf("dry run: %+v %v", dr, err)
	}
	if _, err := mgr.DryRun(ctx, "nope", ""); !errors.Is(err, discovery.ErrNotSubscribed) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("dry run of an unknown cluster: %v", err)
	}

	// A malformed command is refused by the static registry; a bad text
	// read from a registry keeps the command in force (see the ZooKeeper
	// tests). Degrade and switcher entries act on the gate and switches.
	if err := reg.SetCommand(discovery.CommandKey{Group: "yf"}, `{"clientCommandList":[{"commandType":9}]}`); err == nil {
		t.Fatal("malformed command accepted")
	}
	// applied waits until a command's effect shows, checking again after
	// each processed delivery: an earlier delivery's event may come first,
	// and the switches are set after the endpoints are delivered.
	applied := func(what string, ok func() bool) {
		t.Helper()
		for {
			events := mgr.Events()
			if ok() {
				return
			}
			select {
			case <-events:
			case <-ctx.Done():
				t.Fatalf("%s: not applied (degrade %q, switch %v)", what, gate.Degraded(), feature.On())
			}
		}
	}
	set(`{"clientCommandList":[{"index":1,"commandType":1,"pattern":"Svc","remark":"maintenance"},{"commandType":2,"pattern":"feature.x:true,unknown.y:true"}]}`)
	applied("degrade command", func() bool { return strings.Contains(gate.Degraded(), "maintenance") && feature.On() })
	rec.WaitUntil(t, "back to own group", func(s gateway.EndpointSet) bool { return len(s.Endpoints) == 2 && s.GroupWeights == nil })
	st := mgr.States()
	if len(st) != 1 || st[0].Active.Degrade == nil || st[0].Degraded == "" {
		t.Fatalf("States = %+v", st)
	}
	set("")
	applied("clearing the command", func() bool { return gate.Degraded() == "" && !feature.On() })
	if got, _, _ := rec.Last(); len(got.Endpoints) != 2 {
		t.Fatalf("endpoints after clearing: %s", testregistry.Addrs(got))
	}
}

type nopInvoker struct{}

func (nopInvoker) Invoke(context.Context, *gateway.Call, *gateway.Reply) error { return nil }

func TestGate(t *testing.T) {
	g := discovery.NewGate("users", nopInvoker{})
	ctx := context.Background()
	if err := g.Invoke(ctx, &gateway.Call{}, &gateway.Reply{}); err != nil {
		t.Fatal(err)
	}
	g.SetDegraded("group yf, index 1: overload")
	err := g.Invoke(ctx, &gateway.Call{}, &gateway.Reply{})
	if err == nil || !strings.Contains(err.Error(), "degraded by a registry command (group yf, index 1: overload)") {
		t.Fatalf("degraded: %v", err)
	}
	g.SetDegraded("")
	if err := g.Invoke(ctx, &gateway.Call{}, &gateway.Reply{}); err != nil || g.Degraded() != "" {
		t.Fatalf("after the degrade: %v %q", err, g.Degraded())
	}
}

// BenchmarkGate is the cost a registry-fed cluster adds to every call.
func BenchmarkGate(b *testing.B) {
	g := discovery.NewGate("users", nopInvoker{})
	ctx, call, reply := context.Background(), &gateway.Call{}, &gateway.Reply{}
	b.ReportAllocs()
	for b.Loop() {
		g.Invoke(ctx, call, reply)
	}
}

func BenchmarkApplyTraffic(b *testing.B) {
	eps := map[string][]gateway.Endpoint{}
	for i := range 100 {
		g := "yf"
		if i%2 == 1 {
			g = "tc"
		}
		eps[g] = append(eps[g], gateway.Endpoint{Addr: "10.0.0." + strings.Repeat("1", 1+i%3) + ":8002"})
	}
	c := mustParseB(b, `{"clientCommandList":[{"index":1,"commandType":0,"pattern":"*","mergeGroups":["yf:30","tc:70"],"routeRules":["10.9.* to 10.0.*"]}]}`)
	tc := discovery.Resolve("Svc", c).Traffic
	b.ReportAllocs()
	for b.Loop() {
		discovery.ApplyTraffic("yf", tc, eps, "10.9.0.1")
	}
}

func mustParseB(b *testing.B, s string) *discovery.Command {
	c, err := discovery.ParseCommand(s)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
