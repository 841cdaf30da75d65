package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// The http-motan2 scenario: HTTP -> Motan2 through meshgate (a route with
// a query argument) and through the motan-go agent's /proxy_to_rpc, next
// to direct Motan2 calls (m2load), against our Motan2 echo server.

const (
	service  = "bench.EchoService"
	echoArg  = "hello"
	routeURL = "/bench/echo?msg=" + echoArg
)

var motan2Scenario = &scenario{
	name:    "http-motan2",
	title:   "HTTP -> Motan2",
	targets: []string{"direct", "meshgate", "agent"},
	calls:   "Motan2",
	run:     runMotan2,
	loadLine: func(o options) string {
		return fmt.Sprintf("wrk -t%d -c%d -d%s --latency (direct: m2load, %d callers, GOMAXPROCS=%d); warm-up %v; %d Motan2 connections per client",
			o.threads, o.conns, wrkDuration(o.duration), o.conns, o.threads, o.warmup, o.upConns)
	},
	result: func(rs results) string { return resultLine(rs, "http-motan2", "agent", "agent") },
}

func runMotan2(ctx context.Context, s *scenario, o options, tmp string, bins binaries) (results, error) {
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	echoAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	agentPort, agentMport, agentHport, agentEport, mgPort, mgPprof := ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]

	// The harness's own Motan2 client: readiness, reply checks and the
	// echo server's call counter, never during a measured run.
	client := motan2.NewClient(echoAddr, motan2.WithConnections(1),
		motan2.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer client.Close()

	logf("starting echo server on %s", echoAddr)
	echo, err := startProc("echoserver", filepath.Join(tmp, "echoserver.log"), nil, bins.echo, "-addr", echoAddr, "-service", service)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, echo, o.startup, func() error {
		if err := dial(echoAddr); err != nil {
			return err
		}
		return checkMotan(ctx, client)
	}); err != nil {
		return nil, err
	}
	up := upstream{
		p:     echo,
		count: func(ctx context.Context) (int64, error) { return echoCount(ctx, client) },
		check: func(ctx context.Context) error { return checkMotan(ctx, client) },
	}

	var rs results
	if o.targets["direct"] {
		rs = append(rs, &target{name: "direct", label: "direct Motan2 (m2load)",
			direct: func(ctx context.Context, d time.Duration) (loadResult, error) {
				return runM2load(ctx, bins.load, o.threads, o.conns, o.upConns, d, echoAddr, service)
			}})
	}
	if o.targets["meshgate"] {
		cfg := filepath.Join(tmp, "meshgate.yaml")
		if err := os.WriteFile(cfg, []byte(meshgateConfig(mgPort, echoAddr, o.upConns)), 0o644); err != nil {
			return nil, err
		}
		if out, _, err := runBounded(ctx, tmp, nil, bins.meshgate, "validate", "-c", cfg); err != nil {
			return nil, fmt.Errorf("meshgate rejects the generated config %s: %w\n%s", cfg, err, out)
		}
		args := []string{"run", "-c", cfg}
		t := &target{name: "meshgate", label: "meshgate HTTP -> Motan2",
			url: fmt.Sprintf("http://127.0.0.1:%d%s", mgPort, routeURL), want: `"` + echoArg + `"`}
		if o.profile != "" {
			args = append(args, "--pprof-addr", fmt.Sprintf("127.0.0.1:%d", mgPprof))
			t.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", mgPprof)
		}
		if t.gw, err = startGateway(ctx, o, "meshgate", fmt.Sprintf("HTTP on 127.0.0.1:%d", mgPort),
			filepath.Join(tmp, "meshgate.log"), bins.meshgate, args, t.url, t.want); err != nil {
			return nil, err
		}
		rs = append(rs, t)
	}
	if o.targets["agent"] {
		dir := filepath.Join(tmp, "agent")
		q := url.Values{"service": {service}, "method": {"echo"}, "arg_type": {"string"}, "arg": {echoArg}}
		t := &target{name: "agent", label: "motan-go agent HTTP -> Motan2",
			url: fmt.Sprintf("http://127.0.0.1:%d/proxy_to_rpc?%s", agentHport, q.Encode()), want: echoArg}
		if t.gw, err = startGateway(ctx, o, "motan-go agent", fmt.Sprintf("http proxy 127.0.0.1:%d, files in %s", agentHport, dir),
			filepath.Join(tmp, "motanagent.log"), bins.agent, []string{
				"-bench.dir", dir, "-bench.port", strconv.Itoa(agentPort), "-bench.mport", strconv.Itoa(agentMport),
				"-bench.hport", strconv.Itoa(agentHport), "-bench.eport", strconv.Itoa(agentEport),
				"-bench.upstream", echoAddr, "-bench.service", service, "-bench.conns", strconv.Itoa(o.upConns)},
			t.url, t.want); err != nil {
			return nil, err
		}
		rs = append(rs, t)
	}

	for _, t := range rs {
		if err := measure(ctx, o, s, bins, up, t); err != nil {
			return nil, fmt.Errorf("%s: %w", t.label, err)
		}
	}
	return rs, nil
}

// checkMotan calls echo("hello") directly and checks the reply.
func checkMotan(ctx context.Context, c *motan2.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, &motan2.Request{Service: service, Method: "echo", Args: []motan2.Value{motan2.String(echoArg)}})
	if err != nil {
		return err
	}
	if resp.Value.Kind() != motan2.KindString || resp.Value.Str() != echoArg {
		return fmt.Errorf("echo replied %v, want the string %q", resp.Value, echoArg)
	}
	return nil
}

// echoCount asks the echo server how many echo calls it has served.
func echoCount(ctx context.Context, c *motan2.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, &motan2.Request{Service: service, Method: "count"})
	if err != nil {
		return 0, fmt.Errorf("echo server count: %w", err)
	}
	return resp.Value.Int(), nil
}

// meshgateConfig is meshgate's configuration: one cluster (the echo
// server) and one route GET /bench/echo?msg=... -> bench.EchoService.echo.
func meshgateConfig(port int, echoAddr string, conns int) string {
	return fmt.Sprintf(`# generated by benchmarks/cmd/e2e
http:
  listen: 127.0.0.1:%d
clusters:
  - name: echo
    endpoints: [%q]
    lb: round_robin
    connections: %d
routes:
  - name: bench-echo
    method: GET
    path: /bench/echo
    target:
      cluster: echo
      service: %s
      method: echo
      timeout: 1s
    args:
      - name: msg
        from: query
        type: string
`, port, echoAddr, conns, service)
}
