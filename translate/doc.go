// Package translate holds the pure functions between meshgate's protocols:
// binding HTTP request data (path variables, query parameters, headers,
// JSON bodies) to typed Motan2 arguments, rendering Motan2 values as JSON,
// protobuf messages to and from JSON (with per-route options) and Simple
// values (docs/transcoding.md), and the one error model with its literal
// tables mapping gRPC codes, HTTP statuses and Motan2 exceptions, details
// included (docs/errors.md).
//
// It imports the standard library, motan2 and the protobuf runtime only,
// and never the gateway packages or a transport. Hot-path functions are append-style and allocate nothing
// (AppendJSON, AppendErrorJSON) or little (ParseJSONBody: the body copy,
// one pointer-free node arena, and the Values the caller asks for).
package translate
