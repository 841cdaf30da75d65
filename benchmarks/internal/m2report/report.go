// Package m2report is the JSON line the direct load generators of the
// end-to-end benchmark (cmd/m2load for Motan2, cmd/grpcload for gRPC)
// print and the harness (cmd/e2e) reads.
package m2report

// Result is one m2load or grpcload run.
type Result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	FirstError string  `json:"first_error,omitempty"`
}
