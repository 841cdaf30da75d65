package ingress

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshgate/meshgate/descriptors"
	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// Helpers shared by the ingresses that carry protobuf messages (gRPC,
// transcoded HTTP, the Motan2 bridge) and by every ingress's request ids.

// requestIDs makes process-unique request ids: a random per-process prefix
// and a counter, cheap enough for every request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func (r *requestIDs) init() {
	var rnd [4]byte
	rand.Read(rnd[:])
	r.prefix = hex.EncodeToString(rnd[:]) + "-"
}

func (r *requestIDs) next() string {
	var buf [8 + 1 + 16]byte
	b := append(buf[:0], r.prefix...)
	b = strconv.AppendUint(b, r.n.Add(1), 16)
	return string(b)
}

// streamKind names the kind of a streaming method.
func streamKind(md protoreflect.MethodDescriptor) string {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return "bidirectional streaming"
	case md.IsStreamingClient():
		return "client streaming"
	default:
		return "server streaming"
	}
}

// schemaVersion describes a snapshot for error messages: "3, protos:a.proto".
func schemaVersion(s *descriptors.Snapshot) string {
	if s == nil {
		return "none loaded"
	}
	v := strconv.FormatUint(s.Version, 10)
	if s.Source != "" {
		v += ", " + s.Source
	}
	return v
}

// argFieldPath resolves a route's args entry, a field name (proto or JSON
// spelling) or a dotted path through singular message fields, in md.
func argFieldPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var fds []protoreflect.FieldDescriptor
	for rest := path; ; {
		seg, r, more := strings.Cut(rest, ".")
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			fd = md.Fields().ByJSONName(seg)
		}
		if fd == nil {
			return nil, errors.New("args field " + strconv.Quote(path) + ": " + string(md.FullName()) + " has no field " + strconv.Quote(seg))
		}
		fds = append(fds, fd)
		if !more {
			return fds, nil
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, errors.New("args field " + strconv.Quote(path) + ": " + string(fd.FullName()) + " is not a singular message field")
		}
		md, rest = fd.Message(), r
	}
}

// simpleArgs converts a request message into the arguments of a Simple
// call: one map argument (the whole message), or one argument per entry
// of fields (see argFieldPath), zero values included so that positions
// never shift. A message that cannot be converted is the caller's fault
// (InvalidArgument); a fields entry the message lacks is the route's
// (Internal). With an error it returns the arguments appended so far.
func simpleArgs(m *dynamicpb.Message, fields []string, dst []motan2.Value) ([]motan2.Value, error) {
	v, err := translate.ProtoToSimple(m, len(fields) > 0)
	if err != nil {
		var te *translate.Error
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, &translate.Error{Code: translate.InvalidArgument,
			Message: "request " + string(m.Descriptor().FullName()) + " cannot be converted: " + err.Error(), Cause: err}
	}
	if len(fields) == 0 {
		return append(dst, v), nil
	}
	for _, path := range fields {
		fds, err := argFieldPath(m.Descriptor(), path)
		if err != nil {
			return dst, &translate.Error{Code: translate.Internal, Message: "route " + err.Error()}
		}
		fv := v
		for _, fd := range fds {
			fv, _ = fv.Lookup(string(fd.Name()))
		}
		dst = append(dst, fv)
	}
	return dst, nil
}

// checkArgFields checks that every args entry names a field of the
// method's request message (see argFieldPath).
func checkArgFields(md protoreflect.MethodDescriptor, fields []string) error {
	for _, path := range fields {
		if _, err := argFieldPath(md.Input(), path); err != nil {
			return err
		}
	}
	return nil
}
