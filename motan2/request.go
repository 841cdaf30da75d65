package motan2

import (
	"strconv"
	"time"
)

// Request is a typed Motan2 call: what a Client sends with Call and what a
// ServiceMux hands to a ServiceFunc.
type Request struct {
	Service string // M_p, required
	Method  string // M_m, required
	Group   string // M_g, optional
	Version string // M_v, optional
	Args    []Value
	// Meta holds further meta pairs (attachments); on the server side it is
	// the request's whole meta.
	Meta Meta
	// Serialization of the arguments; the zero value (hessian2, which no
	// peer supports) means Simple on the client side.
	Serialization Serialization

	// Frame is the request frame a server decoded Args from (server side only).
	Frame *Frame
}

// Response is the reply to a Call.
type Response struct {
	Value Value
	Meta  Meta
	Frame *Frame // the response frame as received
}

// frame builds the request frame for r: M_p, M_m, M_pp=motan2 first, then
// M_g, M_v, then r.Meta, with the body encoded in r's serialization.
func (r *Request) frame(dst []byte) (*Frame, []byte, error) {
	s := r.Serialization
	if s == SerializationHessian2 {
		s = SerializationSimple
	}
	body, err := AppendValues(dst, s, r.Args)
	if err != nil {
		return nil, dst, err
	}
	f := NewRequest(r.Service, r.Method, s, body)
	if r.Group != "" {
		f.Meta = append(f.Meta, MetaPair{MetaGroup, r.Group})
	}
	if r.Version != "" {
		f.Meta = append(f.Meta, MetaPair{MetaVersion, r.Version})
	}
	f.Meta = append(f.Meta, r.Meta...)
	return f, body, nil
}

// processTime formats a duration as motan-go's M_pt value (milliseconds).
func processTime(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10)
}
