// Package translate holds the pure functions between meshgate's protocols:
// binding HTTP request data (path variables, query parameters, headers,
// JSON bodies) to typed Motan2 arguments, rendering Motan2 values as JSON,
// and the one error model with its literal tables mapping gRPC codes, HTTP
// statuses and Motan2 exceptions (docs/errors.md).
//
// It imports the standard library and motan2 only, and never the gateway
// packages. Hot-path functions are append-style and allocate nothing
// (AppendJSON, AppendErrorJSON) or little (ParseJSONBody: the body copy,
// one pointer-free node arena, and the Values the caller asks for).
package translate
