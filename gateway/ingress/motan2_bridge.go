package ingress

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Motan2Bridge makes a Motan2 route call a gRPC service: the Motan2
// method names the gRPC method of Service, the request becomes the
// method's request message and the reply message comes back in the
// caller's serialization.
//
// How the request becomes a message depends on the serialization the
// caller used: grpc-pb bodies are the message bytes and pass untouched;
// a pb body's one message value is unwrapped; Simple and Breeze arguments
// are converted through the schema (translate.ArgsToProto: one map
// argument, or one argument per ArgFields entry). The reply goes back the
// same way: bytes for grpc-pb, a message value for pb, the message
// converted to a Simple map (translate.ProtoToSimple) otherwise.
type Motan2Bridge struct {
	// Schema describes Service; the descriptor is read from
	// Schema.Current() for every call.
	Schema *descriptors.Registry
	// Service is the gRPC service's full name.
	Service string
	// ArgFields maps positional Simple arguments to request fields.
	ArgFields []string
	// Invoker is the gRPC upstream.
	Invoker gateway.Invoker
}

// bridge serves req on a route with a Bridge.
func (m *Motan2) bridge(ctx context.Context, req *motan2.Frame, route *Motan2Route) *motan2.Frame {
	b := route.Bridge
	method := req.Method()
	md, err := b.method(method)
	if err != nil {
		return m.bridgeError(req, route, method, m.rejected(req, route, method, err), nil)
	}
	call := gateway.Call{
		Service: b.Service, Method: method, FullMethod: "/" + b.Service + "/" + method,
		Meta: req.Meta, RequestID: strconv.FormatUint(req.RequestID, 10),
		Idempotent: route.Policy.Idempotent,
	}
	motan2Budget(ctx, &call, route.Timeout)
	if k := route.Policy.HashKey; k.From == gateway.KeyFromHeader {
		call.HashKey = req.Meta.Get(k.Name)
	}
	if call.Payload, err = bridgeRequest(req, md, b.ArgFields); err != nil {
		return m.bridgeError(req, route, method, m.rejected(req, route, method, err), nil)
	}
	var reply gateway.Reply
	if err := b.Invoker.Invoke(ctx, &call, &reply); err != nil {
		return m.bridgeError(req, route, method, err, &reply)
	}
	body, err := bridgeReply(req.Serialization, md, reply.Payload)
	if err != nil {
		return m.bridgeError(req, route, method, err, &reply)
	}
	resp := motan2.NewResponse(req, body)
	resp.Meta = bridgeMeta(resp.Meta, &reply)
	return resp
}

// method finds the gRPC method named by a Motan2 method name.
func (b *Motan2Bridge) method(name string) (protoreflect.MethodDescriptor, error) {
	snap := b.Schema.Current()
	sd, ok := snap.Service(b.Service)
	if !ok {
		return nil, translate.Errorf(translate.Unavailable, "schema (version %s) has no service %s", schemaVersion(snap), b.Service)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, translate.Errorf(translate.Unimplemented, "method %s is not found in %s", name, b.Service)
	}
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, translate.Errorf(translate.Unimplemented, "%s.%s is a streaming method; Motan2 calls reach unary methods only", b.Service, name)
	}
	return md, nil
}

// bridgeRequest returns the request message bytes for req.
func bridgeRequest(req *motan2.Frame, md protoreflect.MethodDescriptor, fields []string) ([]byte, error) {
	switch req.Serialization {
	case motan2.SerializationGrpcPB:
		if req.Body == nil {
			return []byte{}, nil
		}
		return req.Body, nil
	case motan2.SerializationPB:
		vs, err := motan2.DecodePB(req.Body, []motan2.Kind{motan2.KindMessage})
		if err != nil {
			return nil, translate.Errorf(translate.InvalidArgument, "pb request body: %v", err)
		}
		if vs[0].IsNull() {
			return []byte{}, nil
		}
		return vs[0].Raw(), nil
	}
	args, err := motan2.DecodeArgs(req.Serialization, req.Body)
	if err != nil {
		return nil, translate.Errorf(translate.InvalidArgument, "request arguments: %v", err)
	}
	msg := dynamicpb.NewMessage(md.Input())
	if err := translate.ArgsToProto(msg, args, fields); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, translate.Errorf(translate.InvalidArgument, "request message %s: %v", md.Input().FullName(), err)
	}
	return b, nil
}

// bridgeReply returns the reply body for a reply message in the
// serialization the caller used.
func bridgeReply(s motan2.Serialization, md protoreflect.MethodDescriptor, payload []byte) ([]byte, error) {
	switch s {
	case motan2.SerializationGrpcPB:
		return payload, nil
	case motan2.SerializationPB:
		return motan2.AppendPB(nil, motan2.Message(string(md.Output().FullName()), payload))
	}
	msg := dynamicpb.NewMessage(md.Output())
	if err := proto.Unmarshal(payload, msg); err != nil {
		return nil, translate.Errorf(translate.Internal, "reply message %s from upstream: %v", md.Output().FullName(), err)
	}
	v, err := translate.ProtoToSimple(msg, false)
	if err != nil {
		return nil, translate.Errorf(translate.Internal, "reply message %s: %v", md.Output().FullName(), err)
	}
	body, err := motan2.AppendValues(nil, s, []motan2.Value{v})
	if err != nil {
		return nil, translate.Errorf(translate.Internal, "reply in %v: %v", s, err)
	}
	return body, nil
}

// bridgeMeta adds a gRPC reply's header and trailer metadata to Motan2
// reply meta.
func bridgeMeta(meta motan2.Meta, reply *gateway.Reply) motan2.Meta {
	meta = gateway.MetaFromHeader(meta, reply.Header)
	return gateway.MetaFromHeader(meta, reply.Trailer)
}

// rejected logs a bridged call answered with err before its route chain
// and returns err.
func (m *Motan2) rejected(req *motan2.Frame, route *Motan2Route, method string, err error) error {
	if r := m.snap.Load().Rejects; r != nil {
		r.Log(time.Time{}, "motan2", route.Name, req.Service()+"/"+method, req.Meta.Get(motan2.MetaRequestID), err)
	}
	return err
}

func (m *Motan2) bridgeError(req *motan2.Frame, route *Motan2Route, method string, err error, reply *gateway.Reply) *motan2.Frame {
	e := translate.FromError(err)
	if e.Status() >= 500 {
		if n, ok := m.fails.allow(time.Now()); ok {
			m.log.Warn("motan2: call failed", withSuppressed(n, "route", route.Name, "service", req.Service(), "method", method,
				"code", e.Code.String(), "error", e.Message)...)
		}
	}
	resp := motan2.NewExceptionResponse(req, translate.ToMotan2Exception(e))
	if reply != nil {
		resp.Meta = bridgeMeta(resp.Meta, reply)
	}
	return resp
}
