package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/meshgate/meshgate/motan2"
)

// frameJSON is the decode output: the field names and typed-value
// conventions of the golden-vector index (shared/vectors/motan2/index.json).
type frameJSON struct {
	Kind          string            `json:"kind"`
	RequestID     string            `json:"request_id"`
	RequestIDHex  string            `json:"request_id_hex"`
	Flags         flagsJSON         `json:"flags"`
	Header        headerJSON        `json:"header"`
	Serialization serializationJSON `json:"serialization"`
	Meta          [][2]string       `json:"meta"`
	MetaSize      int               `json:"meta_size"`
	BodySize      int               `json:"body_size"`
	FrameSize     int               `json:"frame_size"`
	Body          *bodyJSON         `json:"body,omitempty"`
	Arguments     []any             `json:"arguments,omitempty"`
	Value         any               `json:"value,omitempty"`
	ExceptionJSON string            `json:"exception_json,omitempty"`
	Exception     *motan2.Exception `json:"exception,omitempty"`
	// BodyHex is the raw body when it cannot be decoded (unsupported
	// serialization, pb without --pb-types, decode error).
	BodyHex     string `json:"body_hex,omitempty"`
	DecodeError string `json:"decode_error,omitempty"`
}

type flagsJSON struct {
	Exception bool `json:"exception"`
	Gzip      bool `json:"gzip"`
	Heartbeat bool `json:"heartbeat"`
	Oneway    bool `json:"oneway"`
	Proxy     bool `json:"proxy"`
	Request   bool `json:"request"`
}

type headerJSON struct {
	Magic             string `json:"magic"`
	MsgTypeByte       string `json:"msg_type_byte"`
	VersionStatusByte string `json:"version_status_byte"`
	SerializationByte string `json:"serialization_byte"`
	Version           int    `json:"version"`
	Status            int    `json:"status"`
	Serialization     int    `json:"serialization"`
}

type serializationJSON struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

type bodyJSON struct {
	Compression      string `json:"compression"`
	CompressedSize   int    `json:"compressed_size"`
	UncompressedSize int    `json:"uncompressed_size"`
}

func cmdDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("motan2 decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pbTypes := fs.String("pb-types", "", "comma-separated kinds of the arguments (or reply) of a pb (serialization 5) body, e.g. int32,string,pb_message")
	isHex := fs.Bool("hex", false, "the input is hex text (whitespace ignored) instead of binary")
	compact := fs.Bool("compact", false, "print one JSON object per line")
	maxSize := fs.Int("max-size", motan2.DefaultMaxSize, "maximum meta and body size in bytes")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) != 1 {
		return usageErr("motan2 decode: want exactly one FILE (or - for standard input), got %d arguments", len(pos))
	}
	var kinds []motan2.Kind
	if *pbTypes != "" {
		for _, name := range strings.Split(*pbTypes, ",") {
			k, ok := motan2.ParseKind(strings.TrimSpace(name))
			if !ok {
				return usageErr("motan2 decode: --pb-types: unknown kind %q", name)
			}
			kinds = append(kinds, k)
		}
	}
	var data []byte
	if pos[0] == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, int64(2**maxSize)+64<<10))
	} else {
		data, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	if *isHex {
		clean := strings.Join(strings.Fields(string(data)), "")
		if data, err = hex.DecodeString(clean); err != nil {
			return fmt.Errorf("motan2 decode: --hex input: %w", err)
		}
	}
	if len(data) == 0 {
		return errors.New("motan2 decode: empty input")
	}
	lim := motan2.Limits{MaxMetaSize: *maxSize, MaxBodySize: *maxSize}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if !*compact {
		enc.SetIndent("", "  ")
	}
	for off := 0; off < len(data); {
		f, n, err := motan2.DecodeFrame(data[off:], lim)
		if err != nil {
			return fmt.Errorf("motan2 decode: frame at byte offset %d: %w", off, err)
		}
		if err := enc.Encode(describeFrame(f, n, kinds)); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func describeFrame(f *motan2.Frame, size int, pbKinds []motan2.Kind) *frameJSON {
	metaSize := 0
	for i, p := range f.Meta {
		if i > 0 {
			metaSize++
		}
		metaSize += len(p.Key) + len(p.Value) + 1
	}
	out := &frameJSON{
		RequestID:    fmt.Sprint(f.RequestID),
		RequestIDHex: fmt.Sprintf("0x%016x", f.RequestID),
		Flags: flagsJSON{
			Exception: f.IsException(),
			Gzip:      f.Flags.Has(motan2.FlagGzip),
			Heartbeat: f.IsHeartbeat(),
			Oneway:    f.Flags.Has(motan2.FlagOneway),
			Proxy:     f.Flags.Has(motan2.FlagProxy),
			Request:   f.IsRequest(),
		},
		Header: headerJSON{
			Magic:             "0xf1f1",
			MsgTypeByte:       fmt.Sprintf("0x%02x", byte(f.Flags)),
			VersionStatusByte: fmt.Sprintf("0x%02x", f.Version<<3|byte(f.Status)),
			SerializationByte: fmt.Sprintf("0x%02x", byte(f.Serialization)<<3),
			Version:           int(f.Version),
			Status:            int(f.Status),
			Serialization:     int(f.Serialization),
		},
		Serialization: serializationJSON{Name: f.Serialization.String(), Number: int(f.Serialization)},
		Meta:          make([][2]string, 0, len(f.Meta)),
		MetaSize:      metaSize,
		BodySize:      f.WireBodySize,
		FrameSize:     size,
	}
	for _, p := range f.Meta {
		out.Meta = append(out.Meta, [2]string{p.Key, p.Value})
	}
	switch {
	case f.IsHeartbeat() && f.IsRequest():
		out.Kind = "heartbeat_request"
	case f.IsHeartbeat():
		out.Kind = "heartbeat_response"
	case f.IsRequest():
		out.Kind = "request"
	default:
		out.Kind = "response"
	}
	if f.Flags.Has(motan2.FlagGzip) {
		out.Body = &bodyJSON{Compression: "gzip", CompressedSize: f.WireBodySize, UncompressedSize: len(f.Body)}
	}
	if f.IsHeartbeat() {
		return out
	}
	if f.IsException() {
		out.ExceptionJSON = f.Meta.Get(motan2.MetaException)
		out.Exception = f.Exception()
		return out
	}
	fail := func(err error) *frameJSON {
		out.DecodeError = err.Error()
		out.BodyHex = hex.EncodeToString(f.Body)
		return out
	}
	var values []motan2.Value
	var err error
	switch {
	case f.Serialization == motan2.SerializationPB && pbKinds == nil:
		if len(f.Body) > 0 {
			return fail(errors.New("pb bodies are typed by the method signature: pass --pb-types"))
		}
	case f.Serialization == motan2.SerializationPB:
		values, err = motan2.DecodePB(f.Body, pbKinds)
	case f.IsRequest():
		values, err = motan2.DecodeArgs(f.Serialization, f.Body)
	default:
		var v motan2.Value
		if v, err = motan2.DecodeReply(f.Serialization, f.Body); err == nil && len(f.Body) > 0 {
			values = []motan2.Value{v}
		}
	}
	if err != nil {
		return fail(err)
	}
	if f.IsRequest() {
		out.Arguments = make([]any, 0, len(values))
		for _, v := range values {
			out.Arguments = append(out.Arguments, motan2.TypedJSON(v))
		}
	} else if len(values) > 0 {
		out.Value = motan2.TypedJSON(values[0])
	}
	return out
}

// metaFlag collects repeated --meta k=v flags.
type metaFlag motan2.Meta

func (m *metaFlag) String() string { return fmt.Sprint(*m) }

func (m *metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*m = append(*m, motan2.MetaPair{Key: k, Value: v})
	return nil
}

func cmdCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("motan2 call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	group := fs.String("group", "", "service group (M_g)")
	ver := fs.String("version", "", "service version (M_v)")
	timeout := fs.Duration("timeout", 3*time.Second, "call deadline, connection included")
	ser := fs.String("serialization", "simple", "argument serialization: simple, breeze, grpc-pb")
	plain := fs.Bool("plain", false, "print the reply value as plain JSON instead of typed JSON")
	var meta metaFlag
	fs.Var(&meta, "meta", "extra meta pair key=value (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if len(pos) < 3 || len(pos) > 4 {
		return usageErr("motan2 call: want ADDR SERVICE METHOD [ARGS], got %d arguments", len(pos))
	}
	s, err := motan2.ParseSerialization(*ser)
	if err != nil {
		return usageErr("motan2 call: --serialization: %v", err)
	}
	var callArgs []motan2.Value
	if len(pos) == 4 {
		raw := []byte(pos[3])
		if pos[3] == "-" {
			if raw, err = io.ReadAll(stdin); err != nil {
				return err
			}
		}
		if callArgs, err = parseArgs(raw); err != nil {
			return usageErr("motan2 call: ARGS: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := motan2.NewClient(pos[0], motan2.WithConnections(1), motan2.WithDialTimeout(*timeout),
		motan2.WithErrorThreshold(0), motan2.WithLogger(discardLogger()))
	defer client.Close()
	resp, err := client.Call(ctx, &motan2.Request{Service: pos[1], Method: pos[2], Group: *group, Version: *ver,
		Args: callArgs, Meta: motan2.Meta(meta), Serialization: s})
	var exc *motan2.Exception
	if errors.As(err, &exc) {
		out, _ := json.MarshalIndent(map[string]any{"exception": exc}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
		return &exitError{code: 3, err: fmt.Errorf("server replied with exception %d: %s", exc.ErrCode, exc.ErrMsg)}
	}
	if err != nil {
		return err
	}
	var out any
	if *plain {
		out = resp.Value.Interface()
		if _, err := json.Marshal(out); err != nil {
			out = motan2.TypedJSON(resp.Value) // e.g. maps with non-string keys
		}
	} else {
		pairs := make([][2]string, 0, len(resp.Meta))
		for _, p := range resp.Meta {
			pairs = append(pairs, [2]string{p.Key, p.Value})
		}
		out = map[string]any{"value": motan2.TypedJSON(resp.Value), "meta": pairs}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err = stdout.Write(buf.Bytes())
	return err
}

// parseArgs reads a JSON array of arguments, each plain JSON or typed.
func parseArgs(raw []byte) ([]motan2.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var items []any
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf(`want a JSON array of arguments such as '["hi", 42, {"type":"int16","value":"7"}]': %w`, err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON array")
	}
	vals := make([]motan2.Value, 0, len(items))
	for i, it := range items {
		v, err := motan2.FromPlainJSON(it)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}
