package ingress

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/gateway"
)

// FuzzTranscodeRequest drives the transcoding request mapping (path
// variables, query parameters, JSON body into the request message) with
// arbitrary input: it must never panic, and anything that is not a valid
// request must be a 4xx, never a 5xx.
func FuzzTranscodeRequest(f *testing.F) {
	for _, seed := range []struct{ method, path, query, body string }{
		{"GET", "/v1/shelves/1/books/2", "", ""},
		{"GET", "/v1/shelves/1/books", "page_size=2&page_token=x", ""},
		{"POST", "/v1/shelves/7/books", "", `{"title":"Go","format":"EBOOK","labels":{"a":"b"}}`},
		{"PATCH", "/v1/shelves/1/books/2", "update_mask=title", `{"name":"x","published":"2024-01-01T00:00:00Z"}`},
		{"PUT", "/v1/shelves/1/books/2", "", `{"book":{"authors":[{"displayName":"a"}]}}`},
		{"POST", "/v1/shelves", "", `{"name":"shelves/1","theme":"t","nope":1}`},
		{"POST", "/shop.v1.Library/GetBook", "", `{"name":"a"`},
		{"GET", "/v1/shelves/1/books", "page_size=99999999999&parent=%zz", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.body)
	}
	reg := transcodeSchema(f)
	lib := &transcodeLibrary{snap: reg.Current()}
	h := transcodeHTTP(f, reg, TranscodeTarget{Invoker: lib, GenericPost: true})
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(method+path+query, " \r\n\x00#?") {
			t.Skip()
		}
		uri := path
		if query != "" {
			uri += "?" + query
		}
		ctx := transcodeCtx(method, uri, body)
		h.handle(ctx)
		if s := ctx.Response.StatusCode(); s >= 500 && s != 501 && s != 503 {
			t.Fatalf("%s %s body %q: status %d %s", method, uri, body, s, ctx.Response.Body())
		}
	})
}

// FuzzGRPCMatch: the gRPC route matcher takes any :path a client sends.
func FuzzGRPCMatch(f *testing.F) {
	for _, s := range []string{"/shop.v1.Library/GetBook", "/shop.v1.Library/", "//", "/a/b/c", "", "/", "shop.v1.Library/GetBook", "/x.Y/Z"} {
		f.Add(s)
	}
	snap, err := NewGRPCSnapshot([]*gateway.GRPCRoute{
		{Name: "lib", Service: "shop.v1.Library", Invoker: echoInvoker{}},
		{Name: "get", Service: "shop.v1.Library", Method: "GetBook", Invoker: echoInvoker{}},
		{Name: "y", Service: "x.Y", Method: "Z", Invoker: echoInvoker{}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, full string) {
		e, service, method := snap.match(full)
		if e == nil {
			return
		}
		if full != "/"+service+"/"+method {
			t.Fatalf("%q matched as service %q method %q", full, service, method)
		}
	})
}
