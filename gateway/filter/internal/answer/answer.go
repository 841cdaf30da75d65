// Package answer is the configured-answer part of filter options ("value",
// "type", "error"), shared by the filters that answer calls themselves
// (switcher, mock). Filters never import each other; they may share this.
package answer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshgate/meshgate/motan2"
	"github.com/meshgate/meshgate/translate"
)

// ErrorOptions is a configured error answer.
type ErrorOptions struct {
	// Code is a google.rpc.Code name: NOT_FOUND, UNAVAILABLE, ...
	Code string `yaml:"code"`
	// Message is the text the caller gets (default: a message naming the
	// scope and why).
	Message string `yaml:"message"`
	// HTTPStatus, when set (400..599), replaces the code's HTTP status
	// for HTTP callers.
	HTTPStatus int `yaml:"http_status"`
}

// build returns the error, with defaultMessage when no message is set.
func (o *ErrorOptions) Build(defaultMessage string) (*translate.Error, error) {
	if o.Code == "" {
		return nil, fmt.Errorf("error.code is required (one of %s)", codeNames())
	}
	code, ok := translate.ParseCode(strings.ToUpper(o.Code))
	if !ok || code == translate.OK {
		return nil, fmt.Errorf("error.code %q is not an error code (one of %s)", o.Code, codeNames())
	}
	if o.HTTPStatus != 0 && (o.HTTPStatus < 400 || o.HTTPStatus > 599) {
		return nil, fmt.Errorf("error.http_status %d is not an HTTP error status (400..599)", o.HTTPStatus)
	}
	msg := o.Message
	if msg == "" {
		msg = defaultMessage
	}
	return &translate.Error{Code: code, Message: msg, HTTPStatus: o.HTTPStatus}, nil
}

// codeNames lists the codes an error option may name.
func codeNames() string {
	names := make([]string, 0, translate.NumCodes-1)
	for c := translate.Code(1); c < translate.NumCodes; c++ {
		names = append(names, c.String())
	}
	return strings.Join(names, ", ")
}

// hasValue reports whether a value option was written (null included).
func HasValue(n *yaml.Node) bool { return n.Kind != 0 }

// simpleValue converts a value option to a Simple value: with the
// translate rules of FromJSON for the type named typ (an argument type
// name: string, int32, string_map, ...), or, when typ is empty, with the
// type inferred from the YAML (a mapping is a map, a sequence an array, an
// integer an int64, a float a float64, a bool a bool, null null, anything
// else a string). Map keys keep the order they are written in.
func SimpleValue(n *yaml.Node, typ string) (motan2.Value, error) {
	t := inferType(n)
	if typ != "" {
		var err error
		if t, err = translate.ParseArgType(typ); err != nil {
			return motan2.Null, fmt.Errorf("type: %v", err)
		}
	}
	js, err := appendJSON(nil, n, 0)
	if err != nil {
		return motan2.Null, fmt.Errorf("value: %v", err)
	}
	body, err := translate.ParseJSONBody(js)
	if err != nil {
		return motan2.Null, fmt.Errorf("value: %v", err)
	}
	v, err := body.Whole("value", t)
	if err != nil {
		var ae *translate.ArgError
		if errors.As(err, &ae) {
			return motan2.Null, fmt.Errorf("value %s %s (type %s)", ae.Value, ae.Reason, t)
		}
		return motan2.Null, fmt.Errorf("value: %v", err)
	}
	return v, nil
}

// resolve follows document and alias nodes to the value node.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		default:
			return n
		}
	}
	return n
}

// inferType is the type of a value option written without a type.
func inferType(n *yaml.Node) translate.ArgType {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return translate.ArgMap
	case yaml.SequenceNode:
		return translate.ArgArray
	}
	switch n.ShortTag() {
	case "!!bool":
		return translate.ArgBool
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return translate.ArgInt64
		}
		return translate.ArgFloat64
	case "!!float":
		return translate.ArgFloat64
	}
	return translate.ArgString
}

// appendJSON appends the JSON text of a YAML value to dst, keeping the
// order of mapping keys.
func appendJSON(dst []byte, n *yaml.Node, depth int) ([]byte, error) {
	if depth > motan2.MaxValueDepth {
		return nil, fmt.Errorf("is nested deeper than %d levels", motan2.MaxValueDepth)
	}
	n = resolve(n)
	if n == nil {
		return append(dst, "null"...), nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		dst = append(dst, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return nil, errors.New("has a map key that is not a scalar")
			}
			if k.ShortTag() == "!!merge" {
				return nil, errors.New("has a merge key (<<), which is not supported")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = translate.AppendJSONString(dst, k.Value)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, n.Content[i+1], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case yaml.SequenceNode:
		dst = append(dst, '[')
		for i, item := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, item, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case yaml.ScalarNode:
		return appendScalarJSON(dst, n)
	}
	return nil, fmt.Errorf("has a YAML node of unknown kind %d", n.Kind)
}

func appendScalarJSON(dst []byte, n *yaml.Node) ([]byte, error) {
	switch n.ShortTag() {
	case "!!null":
		return append(dst, "null"...), nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return strconv.AppendBool(dst, b), nil
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		switch i := v.(type) {
		case int:
			return strconv.AppendInt(dst, int64(i), 10), nil
		case int64:
			return strconv.AppendInt(dst, i, 10), nil
		case uint64:
			return strconv.AppendUint(dst, i, 10), nil
		case float64:
			return appendFloat(dst, i, n.Value)
		}
		return nil, fmt.Errorf("%q is not an integer", n.Value)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return appendFloat(dst, f, n.Value)
	}
	return translate.AppendJSONString(dst, n.Value), nil
}

func appendFloat(dst []byte, f float64, text string) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s is not a finite number: write \"NaN\", \"Infinity\" or \"-Infinity\" as a string, with type: float64", text)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0" // stays a float64 when the kind is inferred
	}
	return append(dst, s...), nil
}
