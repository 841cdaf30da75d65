package discovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/gateway"
)

// URL is a registry entry in Motan's URL form, the text motan-go and
// Java Motan write as the data of a ZooKeeper node:
//
//	motan2://10.0.0.7:8002/com.example.Users?group=users-yf&nodeType=service&weight=100
//
// Parameters are written sorted, after group, and never escaped (Motan
// does not escape them either: keys and values must not hold '&' or '=').
type URL struct {
	Protocol string
	Host     string
	Port     int
	// Path is the service name.
	Path   string
	Group  string
	Params map[string]string
}

// ParseURL parses Motan's URL form strictly: a protocol, host:port with
// a numeric port, a path (the service) and parameters, of which group is
// taken out into Group. A parameter without '=' is an error; an empty
// parameter (two '&' in a row) is skipped.
func ParseURL(s string) (*URL, error) {
	proto, rest, ok := strings.Cut(s, "://")
	if !ok || proto == "" {
		return nil, fmt.Errorf("malformed registry URL %q: no protocol://", clip(s))
	}
	hostPath, query, _ := strings.Cut(rest, "?")
	hostPort, path, ok := strings.Cut(hostPath, "/")
	if !ok || path == "" {
		return nil, fmt.Errorf("malformed registry URL %q: no /service path", clip(s))
	}
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, fmt.Errorf("malformed registry URL %q: %v", clip(s), err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("malformed registry URL %q: port %q is not a number from 0 to 65535", clip(s), portStr)
	}
	u := &URL{Protocol: proto, Host: host, Port: port, Path: path, Params: map[string]string{}}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("malformed registry URL %q: parameter %q is not key=value", clip(s), clip(kv))
		}
		if k == "group" {
			u.Group = v
			continue
		}
		u.Params[k] = v
	}
	return u, nil
}

// String writes u in Motan's URL form: group first, then the other
// parameters sorted by key, as motan-go's URL.ToExtInfo does.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString(u.Protocol)
	b.WriteString("://")
	b.WriteString(u.Address())
	b.WriteByte('/')
	b.WriteString(u.Path)
	b.WriteString("?group=")
	b.WriteString(u.Group)
	keys := make([]string, 0, len(u.Params))
	for k := range u.Params {
		if k != "group" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte('&')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(u.Params[k])
	}
	return b.String()
}

// Address returns "host:port".
func (u *URL) Address() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// Endpoint converts the entry to what clusters consume: the address, the
// weight parameter (when it is a number), the dc parameter, the group,
// the protocol and every parameter as labels. Which clusters take it is
// decided per subscription (AcceptsProtocol), not here.
func (u *URL) Endpoint() gateway.Endpoint {
	ep := gateway.Endpoint{Addr: u.Address(), DC: u.Params["dc"], Group: u.Group, Labels: u.Params, Protocol: u.Protocol}
	if w, err := strconv.Atoi(u.Params["weight"]); err == nil && w > 0 {
		ep.Weight = w
	}
	return ep
}

// Java serialization of a String, as Java Motan's ZkClient writes node
// data: the stream magic and version, then TC_STRING with a 2-byte length
// or TC_LONGSTRING with an 8-byte length.
const (
	javaStreamMagic   = 0xaced
	javaStreamVersion = 5
	javaTCString      = 0x74
	javaTCLongString  = 0x7c
)

// DecodeNodeData returns node data as text: a Java-serialized string is
// unwrapped, anything else is taken as UTF-8 text as it is.
func DecodeNodeData(data []byte) (string, error) {
	if len(data) < 2 || binary.BigEndian.Uint16(data) != javaStreamMagic {
		return string(data), nil
	}
	if len(data) < 5 {
		return "", errors.New("truncated Java-serialized node data")
	}
	switch data[4] {
	case javaTCString:
		if len(data) < 7 {
			return "", errors.New("truncated Java-serialized string")
		}
		n := int(binary.BigEndian.Uint16(data[5:7]))
		if len(data) != 7+n {
			return "", fmt.Errorf("node data: Java-serialized string says %d bytes, %d follow", n, len(data)-7)
		}
		return string(data[7:]), nil
	case javaTCLongString:
		if len(data) < 13 {
			return "", errors.New("truncated Java-serialized long string")
		}
		n := binary.BigEndian.Uint64(data[5:13])
		if uint64(len(data)-13) != n {
			return "", fmt.Errorf("node data: Java-serialized long string says %d bytes, %d follow", n, len(data)-13)
		}
		return string(data[13:]), nil
	}
	return "", fmt.Errorf("node data: Java-serialized object of type 0x%02x, not a string", data[4])
}

// EncodeJavaString serializes s as java.io.ObjectOutputStream writes a
// String, the form Java Motan's ZkClient reads.
func EncodeJavaString(s string) []byte {
	if len(s) <= 0xffff {
		b := make([]byte, 7, 7+len(s))
		binary.BigEndian.PutUint16(b, javaStreamMagic)
		binary.BigEndian.PutUint16(b[2:], javaStreamVersion)
		b[4] = javaTCString
		binary.BigEndian.PutUint16(b[5:], uint16(len(s)))
		return append(b, s...)
	}
	b := make([]byte, 13, 13+len(s))
	binary.BigEndian.PutUint16(b, javaStreamMagic)
	binary.BigEndian.PutUint16(b[2:], javaStreamVersion)
	b[4] = javaTCLongString
	binary.BigEndian.PutUint64(b[5:], uint64(len(s)))
	return append(b, s...)
}

// clip shortens s for error messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
