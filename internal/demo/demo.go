// Package demo is meshgate's built-in demo upstream: a small Motan2 service
// that the embedded default configuration points at, so meshgate runs and
// answers on a fresh machine with no external server.
package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// Service is the demo service's name (M_p).
const Service = "meshgate.demo.EchoService"

// Mux returns a ServiceMux serving the demo service and, under
// SchemaService, the schema-described demo (see CallSchema). Methods:
//
//	echo(args...)        returns its only argument unchanged (type kept), or all
//	                     arguments as a generic array when there are several
//	hello(name string)   returns "hello, <name>"
//	add(a, b int*)       returns a + b as int64
//	upper(s string)      returns s in upper case
//	fail(code int*, msg string) replies with a business exception (errtype 2)
//	cancel(id string)    refuses: business exception 409 "order <id> has already shipped"
//	meta([key string])   returns the request meta value under key, or with no
//	                     argument all the meta as a string map
//	sleep(ms int*)       waits ms milliseconds (bounded by the call's deadline)
//	                     and returns ms
func Mux() *motan2.ServiceMux {
	m := motan2.NewServiceMux()
	m.HandleFunc(Service, Call)
	m.HandleFunc(SchemaService, CallSchema)
	return m
}

// Call implements the demo service's methods.
func Call(ctx context.Context, req *motan2.Request) (motan2.Value, error) {
	args := req.Args
	switch req.Method {
	case "echo":
		switch len(args) {
		case 0:
			return motan2.Null, nil
		case 1:
			return args[0], nil
		default:
			return motan2.Array(args), nil
		}
	case "hello":
		if err := want(req, 1); err != nil {
			return motan2.Null, err
		}
		return motan2.String("hello, " + args[0].Str()), nil
	case "upper":
		if err := want(req, 1); err != nil {
			return motan2.Null, err
		}
		return motan2.String(strings.ToUpper(args[0].Str())), nil
	case "add":
		if err := want(req, 2); err != nil {
			return motan2.Null, err
		}
		a, err := intArg(req, 0)
		if err != nil {
			return motan2.Null, err
		}
		b, err := intArg(req, 1)
		if err != nil {
			return motan2.Null, err
		}
		return motan2.Int64(a + b), nil
	case "fail":
		if err := want(req, 2); err != nil {
			return motan2.Null, err
		}
		code, err := intArg(req, 0)
		if err != nil {
			return motan2.Null, err
		}
		return motan2.Null, &motan2.Exception{ErrCode: int(code), ErrMsg: args[1].Str(), ErrType: motan2.ErrTypeBiz}
	case "cancel":
		if err := want(req, 1); err != nil {
			return motan2.Null, err
		}
		return motan2.Null, &motan2.Exception{ErrCode: 409, ErrMsg: "order " + args[0].Str() + " has already shipped", ErrType: motan2.ErrTypeBiz}
	case "meta":
		if len(args) == 0 {
			pairs := make([]motan2.StringPair, 0, len(req.Meta))
			for _, p := range req.Meta {
				pairs = append(pairs, motan2.StringPair(p))
			}
			return motan2.StringMap(pairs), nil
		}
		return motan2.String(req.Meta.Get(args[0].Str())), nil
	case "sleep":
		if err := want(req, 1); err != nil {
			return motan2.Null, err
		}
		ms, err := intArg(req, 0)
		if err != nil {
			return motan2.Null, err
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return motan2.Int64(ms), nil
		case <-ctx.Done():
			return motan2.Null, &motan2.Exception{ErrCode: 504, ErrMsg: "sleep interrupted: " + ctx.Err().Error(), ErrType: motan2.ErrTypeService}
		}
	}
	return motan2.Null, &motan2.Exception{ErrCode: 404,
		ErrMsg: fmt.Sprintf("method %q not found in %s (echo, hello, upper, add, fail, cancel, meta, sleep)", req.Method, Service), ErrType: motan2.ErrTypeService}
}

func want(req *motan2.Request, n int) error {
	if len(req.Args) != n {
		return badArgs(fmt.Sprintf("%s takes %d argument(s), got %d", req.Method, n, len(req.Args)))
	}
	return nil
}

func intArg(req *motan2.Request, i int) (int64, error) {
	switch a := req.Args[i]; a.Kind() {
	case motan2.KindByte, motan2.KindInt16, motan2.KindInt32, motan2.KindInt64:
		return a.Int(), nil
	default:
		return 0, badArgs(fmt.Sprintf("%s: argument %d must be an integer, got %s", req.Method, i, a.Kind()))
	}
}

func badArgs(msg string) error {
	return &motan2.Exception{ErrCode: 400, ErrMsg: msg, ErrType: motan2.ErrTypeBiz}
}
