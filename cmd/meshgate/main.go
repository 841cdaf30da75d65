// Command meshgate is the meshgate gateway binary and its tools.
//
//	meshgate run [-c FILE] [flags]                serve (embedded default without -c);
//	                                              SIGHUP reloads the configuration
//	meshgate validate -c FILE                     check a configuration
//	meshgate motan2 decode [flags] FILE|-         print a Motan2 frame as JSON
//	meshgate motan2 call [flags] ADDR SERVICE METHOD [ARGS]
//	                                              call a live Motan2 server
//	meshgate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `meshgate — protocol-translation gateway for Motan2 service meshes

Usage:
  meshgate run [-c FILE] [--http-addr ADDR] [--grpc-addr ADDR] [--demo-addr ADDR]
               [--admin-addr ADDR|off] [--watch[=INTERVAL]]
        Serve. Without -c, the embedded default: HTTP on 127.0.0.1:8080 in
        front of the built-in demo Motan2 service on 127.0.0.1:9981. The
        management API listens on 127.0.0.1:8002 (docs/admin.md). SIGHUP,
        POST /reload and, with --watch, a change of FILE reload the
        configuration; the one in force serves until the new one is built.
  meshgate validate -c FILE
        Check a configuration file and exit (status 1 if invalid).
  meshgate motan2 decode [--pb-types KINDS] [--hex] [--compact] FILE|-
        Decode Motan2 frame(s) from FILE (or standard input) and print each
        as one JSON object (golden-vector index conventions).
  meshgate motan2 call [flags] ADDR SERVICE METHOD [ARGS]
        Call a Motan2 server and print the reply. ARGS is a JSON array of
        arguments; plain JSON values get default types, typed ones are
        objects such as {"type":"int16","value":"7"}. Flags: --group,
        --version, --timeout, --serialization, --meta k=v, --plain.
  meshgate version

Exit status: 0 success, 1 error, 2 usage error, 3 the server replied with
an exception (motan2 call).
`

// exitError carries an exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	reexec = execSelf
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, flag.ErrHelp) && (ee == nil || ee.err != nil) {
		fmt.Fprintln(os.Stderr, "meshgate:", err)
	}
	if errors.Is(err, flag.ErrHelp) {
		code = 0
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errors.New("missing command")}
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "motan2":
		if len(args) < 2 {
			return usageErr("motan2: missing subcommand (decode, call)")
		}
		switch args[1] {
		case "decode":
			return cmdDecode(args[2:], stdin, stdout, stderr)
		case "call":
			return cmdCall(ctx, args[2:], stdin, stdout, stderr)
		}
		return usageErr("motan2: unknown subcommand %q (decode, call)", args[1])
	case "version", "--version":
		fmt.Fprintln(stdout, "meshgate", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", args[0])
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments, and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
