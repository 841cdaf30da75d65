// Package routes matches HTTP requests to routes declared with
// grpc-gateway / google.api.http path templates ("/v1/{name=shelves/*}",
// "/v1/ops/{id}:cancel", "/files/{path=**}").
//
// Routes are collected with a Builder and compiled once, at configuration
// load, into an immutable Table: a trie keyed by path segment, one per
// custom verb. Build reports every conflict (two routes no request could
// tell apart) at once, so a bad configuration never reaches the hot path.
// Table.Match walks the trie segment by segment, following literal
// children through a map, so its cost depends on the depth of the path
// and the overlap of templates, not on the number of routes; it does not
// allocate, and neither does Params.Get for values without
// percent-encoding.
//
// Matching priority, percent-decoding and conflict rules are documented on
// Table.Match, Params.Value and Builder.Build, and with examples in
// docs/routes.md.
//
// The package uses only the standard library and must never import the
// gateway packages: it is configuration and matching, not request
// handling.
package routes
