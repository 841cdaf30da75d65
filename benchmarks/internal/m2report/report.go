// Package m2report is the JSON line the direct Motan2 load generator
// (cmd/m2load) prints and the harness (cmd/e2e) reads.
package m2report

// Result is one m2load run.
type Result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	FirstError string  `json:"first_error,omitempty"`
}
