package motan2_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// payloadMux serves "test.Payload": "echo" answers the request body as it
// came (grpc-pb: the message; pb: the first value, a message), "fail" a
// business exception, anything else the method name as a Simple string.
func payloadMux(seen chan<- *motan2.Frame) *motan2.ServiceMux {
	mux := motan2.NewServiceMux()
	mux.HandleFunc("test.Payload", func(_ context.Context, r *motan2.Request) (motan2.Value, error) {
		if seen != nil {
			f := *r.Frame
			f.Body = bytes.Clone(r.Frame.Body)
			seen <- &f
		}
		switch r.Method {
		case "echo":
			if r.Serialization == motan2.SerializationPB {
				vs, err := motan2.DecodePB(r.Frame.Body, []motan2.Kind{motan2.KindMessage})
				if err != nil {
					return motan2.Null, err
				}
				return vs[0], nil
			}
			return r.Args[0], nil
		case "fail":
			return motan2.Null, &motan2.Exception{ErrCode: 404, ErrMsg: "no such book", ErrType: motan2.ErrTypeBiz}
		}
		return motan2.String(r.Method), nil
	})
	return mux
}

func TestRequestBodyGrpcPB(t *testing.T) {
	seen := make(chan *motan2.Frame, 1)
	_, addr := startServer(t, payloadMux(seen))
	c := newClient(t, addr)
	msg := []byte{0x0a, 0x03, 'a', '/', 'b', 0xff} // not even a valid message: bytes pass as they are
	body := bytes.Clone(msg)
	req := &motan2.Request{Service: "test.Payload", Method: "echo", Group: "g", Version: "1.0",
		Serialization: motan2.SerializationGrpcPB, Body: body,
		Args: []motan2.Value{motan2.String("ignored")}, Meta: motan2.Meta{{Key: "x-k", Value: "v"}}, Timeout: 5 * time.Second}
	var resp motan2.Response
	if err := c.CallInto(context.Background(), req, &resp); err != nil {
		t.Fatal(err)
	}
	f := <-seen
	if f.Serialization != motan2.SerializationGrpcPB || !bytes.Equal(f.Body, msg) {
		t.Errorf("server got serialization %v body % x", f.Serialization, f.Body)
	}
	for k, want := range map[string]string{motan2.MetaPath: "test.Payload", motan2.MetaMethod: "echo", motan2.MetaGroup: "g", motan2.MetaVersion: "1.0", "x-k": "v"} {
		if got := f.Meta.Get(k); got != want {
			t.Errorf("server got %s=%q, want %q", k, got, want)
		}
	}
	if !resp.Value.IsNull() {
		t.Errorf("the reply of a Body call was decoded: %v", resp.Value)
	}
	if resp.Frame == nil || resp.Frame.Serialization != motan2.SerializationGrpcPB || !bytes.Equal(resp.Frame.Body, msg) {
		t.Errorf("reply frame %+v", resp.Frame)
	}
	if !bytes.Equal(body, msg) {
		t.Error("CallInto changed req.Body")
	}

	// The client's buffers never take the caller's Body: calls with Args
	// after it leave it alone.
	for i := 0; i < 10; i++ {
		r, err := c.Call(context.Background(), &motan2.Request{Service: "test.Payload", Method: "plain", Args: []motan2.Value{motan2.String("xxxxxxxxxxxxxxxx")}})
		if err != nil {
			t.Fatal(err)
		}
		<-seen
		if r.Value.Str() != "plain" {
			t.Fatalf("plain call: %v", r.Value)
		}
	}
	if !bytes.Equal(body, msg) {
		t.Error("a later call wrote into req.Body")
	}
}

func TestRequestBodyPB(t *testing.T) {
	_, addr := startServer(t, payloadMux(nil))
	c := newClient(t, addr)
	msg := []byte{0x0a, 0x01, 'x'}
	body, err := motan2.AppendPB(nil, motan2.Message("", msg))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Call(context.Background(), &motan2.Request{Service: "test.Payload", Method: "echo",
		Serialization: motan2.SerializationPB, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Frame.Serialization != motan2.SerializationPB {
		t.Fatalf("reply serialization %v", resp.Frame.Serialization)
	}
	vs, err := motan2.DecodePB(resp.Frame.Body, []motan2.Kind{motan2.KindMessage})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vs[0].Raw(), msg) {
		t.Errorf("echoed % x, sent % x", vs[0].Raw(), msg)
	}
}

func TestRequestBodyException(t *testing.T) {
	_, addr := startServer(t, payloadMux(nil))
	c := newClient(t, addr)
	resp, err := c.Call(context.Background(), &motan2.Request{Service: "test.Payload", Method: "fail",
		Serialization: motan2.SerializationGrpcPB, Body: []byte{}})
	var exc *motan2.Exception
	if !errors.As(err, &exc) || exc.ErrCode != 404 || resp == nil || resp.Frame == nil {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	// An empty, non-nil Body is an empty message, still a Body call.
	resp, err = c.Call(context.Background(), &motan2.Request{Service: "test.Payload", Method: "echo",
		Serialization: motan2.SerializationGrpcPB, Body: []byte{}})
	if err != nil || !resp.Value.IsNull() || len(resp.Frame.Body) != 0 {
		t.Fatalf("empty body: %+v, %v", resp, err)
	}
}
