package motan2

import (
	"context"
	"errors"
	"sync"
)

// ServiceFunc implements a typed service: it receives the decoded request
// and returns the reply value. Returning a *Exception (or an error wrapping
// one) replies with that exception; context.DeadlineExceeded (the call's
// M_tmo ran out) becomes a 504 service exception; any other error becomes
// a 500 service exception (errtype 1) carrying the error text. A Null value replies with
// an empty body, as motan-go does.
//
// For the pb serialization, whose arguments cannot be decoded without
// their types, req.Args is nil and req.Frame.Body holds the raw body.
type ServiceFunc func(ctx context.Context, req *Request) (Value, error)

// ServiceMux dispatches requests by service (M_p) and optionally group
// (M_g), answering unknown services the way a motan-go server does (404,
// errtype 1, "provider not exist serviceKey=<M_p>") and framework-service
// requests (M_fws) for unregistered paths with 501 "service not support".
type ServiceMux struct {
	mu       sync.RWMutex
	services map[string]Handler // key: service, or group + "_" + service
}

// NewServiceMux returns an empty ServiceMux.
func NewServiceMux() *ServiceMux {
	return &ServiceMux{services: make(map[string]Handler)}
}

// Handle registers h for service in every group.
func (m *ServiceMux) Handle(service string, h Handler) { m.HandleGroup("", service, h) }

// HandleGroup registers h for service in group only; a group-specific
// handler wins over a group-less one.
func (m *ServiceMux) HandleGroup(group, service string, h Handler) {
	key := service
	if group != "" {
		key = group + "_" + service
	}
	m.mu.Lock()
	m.services[key] = h
	m.mu.Unlock()
}

// HandleFunc registers a typed service function for service.
func (m *ServiceMux) HandleFunc(service string, fn ServiceFunc) {
	m.Handle(service, serviceHandler(fn))
}

// ServeMotan2 implements Handler.
func (m *ServiceMux) ServeMotan2(ctx context.Context, req *Frame) *Frame {
	service := req.Service()
	m.mu.RLock()
	h, ok := m.services[req.Group()+"_"+service]
	if !ok {
		h, ok = m.services[service]
	}
	m.mu.RUnlock()
	if !ok {
		if req.Meta.Get(MetaFramework) != "" {
			return NewExceptionResponse(req, &Exception{ErrCode: 501, ErrMsg: "service not support", ErrType: ErrTypeService})
		}
		return NewExceptionResponse(req, ServiceNotFound(service))
	}
	return h.ServeMotan2(ctx, req)
}

type serviceHandler ServiceFunc

func (fn serviceHandler) ServeMotan2(ctx context.Context, f *Frame) *Frame {
	req := &Request{
		Service: f.Service(), Method: f.Method(), Group: f.Group(), Version: f.Meta.Get(MetaVersion),
		Meta: f.Meta, Serialization: f.Serialization, Frame: f,
	}
	if f.Serialization != SerializationPB {
		args, err := DecodeArgs(f.Serialization, f.Body)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, ErrUnsupportedSerialization) {
				msg = "message serialize not found" // motan-go's words, which peers may match on
			}
			return newEarlyFailure(f, &Exception{ErrCode: 500,
				ErrMsg: "deserialize fail. err:" + msg + " method:" + req.Method, ErrType: ErrTypeService})
		}
		req.Args = args
	}
	v, err := fn(ctx, req)
	if err != nil {
		var e *Exception
		switch {
		case errors.As(err, &e):
		case errors.Is(err, context.DeadlineExceeded):
			// The call's time limit (M_tmo) ran out: a timeout, which
			// callers map to 504, not a failure of the service.
			e = &Exception{ErrCode: 504, ErrMsg: "timeout: " + err.Error(), ErrType: ErrTypeService}
		default:
			e = &Exception{ErrCode: 500, ErrMsg: err.Error(), ErrType: ErrTypeService}
		}
		return NewExceptionResponse(f, e)
	}
	if v.IsNull() {
		return NewResponse(f, nil)
	}
	body, err := AppendValues(nil, f.Serialization, []Value{v})
	if err != nil {
		return NewExceptionResponse(f, &Exception{ErrCode: 500,
			ErrMsg: "convert to response fail. err:" + err.Error(), ErrType: ErrTypeService})
	}
	return NewResponse(f, body)
}
