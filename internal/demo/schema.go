package demo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/meshgate/meshgate/motan2"
)

// SchemaService is the full name of the demo's protobuf-described service,
// which is also its Motan2 service name (M_p).
const SchemaService = "meshgate.demo.v1.Demo"

// SchemaFile is the demo schema's path in ProtoFS.
const SchemaFile = "meshgate/demo/v1/demo.proto"

// protoFS holds the demo schema's source (SchemaFile), compiled by the
// "builtin: demo" schema of a configuration.
//
//go:embed proto
var protoFS embed.FS

// ProtoFS returns the file system holding SchemaFile.
func ProtoFS() fs.FS {
	sub, err := fs.Sub(protoFS, "proto")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return sub
}

// CallSchema implements meshgate.demo.v1.Demo as a Motan2 service taking
// one Simple map argument (the request message's fields) and returning a
// map (the reply message's fields), the shape meshgate's "encoding:
// simple" conversion produces. Methods: Hello{name} → {message}, Add{a, b}
// → {sum}, Fail{code, message} → a business exception with that errcode.
func CallSchema(_ context.Context, req *motan2.Request) (motan2.Value, error) {
	if len(req.Args) > 1 {
		return motan2.Null, badArgs(fmt.Sprintf("%s takes one map argument, got %d arguments", req.Method, len(req.Args)))
	}
	var in motan2.Value
	if len(req.Args) == 1 {
		in = req.Args[0]
	}
	field := func(name string) motan2.Value { v, _ := in.Lookup(name); return v }
	switch req.Method {
	case "Hello":
		return motan2.Map(motan2.String("message"), motan2.String("hello, "+field("name").Str())), nil
	case "Add":
		return motan2.Map(motan2.String("sum"), motan2.Int64(field("a").Int()+field("b").Int())), nil
	case "Fail":
		code := int(field("code").Int())
		if code < 400 || code > 599 {
			code = 400
		}
		return motan2.Null, &motan2.Exception{ErrCode: code, ErrMsg: field("message").Str(), ErrType: motan2.ErrTypeBiz}
	}
	return motan2.Null, &motan2.Exception{ErrCode: 404,
		ErrMsg: fmt.Sprintf("method %q not found in %s (Hello, Add, Fail)", req.Method, SchemaService), ErrType: motan2.ErrTypeService}
}
