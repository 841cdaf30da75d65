package ingress

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// shopRegistry compiles the shop test schema into a registry.
func shopRegistry(tb testing.TB) *descriptors.Registry {
	tb.Helper()
	snap, err := descriptors.CompileProtos(context.Background(), []string{"../../descriptors/testdata/protos"}, []string{"shop/v1/shop.proto"})
	if err != nil {
		tb.Fatal(err)
	}
	reg := new(descriptors.Registry)
	reg.Swap(snap)
	return reg
}

// bookInvoker plays a gRPC Library upstream in process: GetBook answers
// a Book named as asked, with header and trailer metadata; a name ending
// in "/missing" is NOT_FOUND with an ErrorInfo detail.
type bookInvoker struct {
	reg  *descriptors.Registry
	last *gateway.Call
}

func (b *bookInvoker) Invoke(_ context.Context, call *gateway.Call, reply *gateway.Reply) error {
	c := *call
	b.last = &c
	md, ok := b.reg.Current().Method(strings.TrimPrefix(call.FullMethod, "/"))
	if !ok {
		return translate.Errorf(translate.Unimplemented, "no method %s", call.FullMethod)
	}
	in := dynamicpb.NewMessage(md.Input())
	if err := proto.Unmarshal(call.Payload, in); err != nil {
		return translate.Errorf(translate.InvalidArgument, "bad request: %v", err)
	}
	name := in.Get(md.Input().Fields().ByName("name")).String()
	reply.Header = metadata.Pairs("x-upstream", "grpc")
	reply.Trailer = metadata.Pairs("x-served-by", "book-invoker")
	if strings.HasSuffix(name, "/missing") {
		detail, _ := anypb.New(&errdetails.ErrorInfo{Reason: "BOOK_NOT_FOUND", Domain: "shop.example"})
		return &translate.Error{Code: translate.NotFound, Message: name + " not found", Details: []*anypb.Any{detail},
			Upstream: true, UpstreamErrCode: 404, UpstreamErrType: motan2.ErrTypeBiz}
	}
	out := dynamicpb.NewMessage(md.Output())
	fields := md.Output().Fields()
	out.Set(fields.ByName("name"), protoreflect.ValueOfString(name))
	out.Set(fields.ByName("title"), protoreflect.ValueOfString("Title of "+name))
	reply.Payload, _ = proto.Marshal(out)
	return nil
}

func newBridgeIngress(tb testing.TB) (*Motan2, *bookInvoker) {
	reg := shopRegistry(tb)
	inv := &bookInvoker{reg: reg}
	route := &Motan2Route{Name: "library", Service: "com.example.Library",
		Bridge: &Motan2Bridge{Schema: reg, Service: "shop.v1.Library", ArgFields: []string{"name"}, Invoker: inv}}
	return NewMotan2(NewMotan2Snapshot([]*Motan2Route{route}), Motan2Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), inv
}

func bridgeFrame(tb testing.TB, s motan2.Serialization, method string, body []byte) *motan2.Frame {
	tb.Helper()
	req := motan2.NewRequest("com.example.Library", method, s, body)
	req.RequestID = 77
	req.Meta = append(req.Meta, motan2.MetaPair{Key: "x-caller", Value: "php"})
	return req
}

func getBookBytes(tb testing.TB, reg *descriptors.Registry, name string) []byte {
	md, _ := reg.Current().Method("shop.v1.Library/GetBook")
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("name"), protoreflect.ValueOfString(name))
	b, err := proto.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func decodeBook(tb testing.TB, reg *descriptors.Registry, b []byte) protoreflect.Message {
	tb.Helper()
	md, _ := reg.Current().Message("shop.v1.Book")
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(b, m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestMotan2BridgeGrpcPBPassesBytes(t *testing.T) {
	m, inv := newBridgeIngress(t)
	in := getBookBytes(t, inv.reg, "shelves/1/books/2")
	resp := m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationGrpcPB, "GetBook", in))
	if resp.IsException() {
		t.Fatalf("exception: %s", resp.Meta.Get(motan2.MetaException))
	}
	if string(inv.last.Payload) != string(in) {
		t.Error("request bytes were not passed through untouched")
	}
	if inv.last.FullMethod != "/shop.v1.Library/GetBook" || inv.last.Meta.Get("x-caller") != "php" {
		t.Errorf("call: %+v", inv.last)
	}
	if resp.RequestID != 77 || resp.Serialization != motan2.SerializationGrpcPB {
		t.Errorf("reply id %d serialization %v", resp.RequestID, resp.Serialization)
	}
	book := decodeBook(t, inv.reg, resp.Body)
	if got := book.Get(book.Descriptor().Fields().ByName("title")).String(); got != "Title of shelves/1/books/2" {
		t.Errorf("title %q", got)
	}
	if resp.Meta.Get("x-upstream") != "grpc" || resp.Meta.Get("x-served-by") != "book-invoker" {
		t.Errorf("reply meta lacks the upstream's header/trailer: %v", resp.Meta)
	}
}

func TestMotan2BridgePB(t *testing.T) {
	m, inv := newBridgeIngress(t)
	body, _ := motan2.AppendPB(nil, motan2.Message("", getBookBytes(t, inv.reg, "a/b")))
	resp := m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationPB, "GetBook", body))
	if resp.IsException() {
		t.Fatalf("exception: %s", resp.Meta.Get(motan2.MetaException))
	}
	vs, err := motan2.DecodePB(resp.Body, []motan2.Kind{motan2.KindMessage})
	if err != nil {
		t.Fatal(err)
	}
	book := decodeBook(t, inv.reg, vs[0].Raw())
	if got := book.Get(book.Descriptor().Fields().ByName("name")).String(); got != "a/b" {
		t.Errorf("name %q", got)
	}
}

func TestMotan2BridgeSimple(t *testing.T) {
	m, _ := newBridgeIngress(t)
	body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String("shelves/9/books/1")})
	resp := m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationSimple, "GetBook", body))
	if resp.IsException() {
		t.Fatalf("exception: %s", resp.Meta.Get(motan2.MetaException))
	}
	v, err := motan2.DecodeReply(resp.Serialization, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if title, ok := v.Lookup("title"); !ok || title.Str() != "Title of shelves/9/books/1" {
		t.Errorf("reply %v", v)
	}
}

func TestMotan2BridgeErrors(t *testing.T) {
	m, inv := newBridgeIngress(t)
	exc := func(resp *motan2.Frame) *motan2.Exception {
		t.Helper()
		if !resp.IsException() {
			t.Fatalf("no exception: %v", resp)
		}
		ex, err := motan2.ParseException(resp.Meta.Get(motan2.MetaException))
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	t.Run("details survive in grpc_status", func(t *testing.T) {
		ex := exc(m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationGrpcPB, "GetBook", getBookBytes(t, inv.reg, "s/missing"))))
		if ex.ErrCode != 404 || ex.ErrType != motan2.ErrTypeBiz {
			t.Errorf("exception %+v", ex)
		}
		e := translate.FromMotan2Exception(ex)
		if e.Code != translate.NotFound || len(e.Details) != 1 {
			t.Fatalf("back from the exception: %v details %d", e, len(e.Details))
		}
		var info errdetails.ErrorInfo
		if err := e.Details[0].UnmarshalTo(&info); err != nil || info.Reason != "BOOK_NOT_FOUND" {
			t.Errorf("detail %v %v", &info, err)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		ex := exc(m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationGrpcPB, "Nope", nil)))
		if !strings.Contains(ex.ErrMsg, "method Nope is not found in shop.v1.Library") {
			t.Errorf("%+v", ex)
		}
	})
	t.Run("streaming method", func(t *testing.T) {
		ex := exc(m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationGrpcPB, "Watch", nil)))
		if !strings.Contains(ex.ErrMsg, "streaming") {
			t.Errorf("%+v", ex)
		}
	})
	t.Run("undecodable simple body", func(t *testing.T) {
		ex := exc(m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationSimple, "GetBook", []byte{0xff, 1})))
		if ex.ErrType != motan2.ErrTypeBiz || !strings.Contains(ex.ErrMsg, "request arguments") {
			t.Errorf("%+v", ex)
		}
	})
	t.Run("too many simple arguments", func(t *testing.T) {
		body, _ := motan2.AppendValues(nil, motan2.SerializationSimple, []motan2.Value{motan2.String("a"), motan2.String("b")})
		ex := exc(m.ServeMotan2(context.Background(), bridgeFrame(t, motan2.SerializationSimple, "GetBook", body)))
		if ex.ErrType != motan2.ErrTypeBiz {
			t.Errorf("%+v", ex)
		}
	})
}
