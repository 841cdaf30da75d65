package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/meshgate/meshgate/gateway"
	"github.com/meshgate/meshgate/motan2"
)

// BenchmarkMotan2ClusterInvoke measures what the cluster core (pick,
// attempt copy, failover bookkeeping, deadline) adds to a direct client
// call against the same local server, in the same run.
func BenchmarkMotan2ClusterInvoke(b *testing.B) {
	addr := startNamed(b, "a")
	ctx := context.Background()
	b.Run("direct-client", func(b *testing.B) {
		cl := motan2.NewClient(addr)
		defer cl.Close()
		req := motan2.Request{Service: "test.Svc", Method: "whoami", Timeout: time.Second, SendTimeout: true}
		var resp motan2.Response
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := cl.CallInto(ctx, &req, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, policy := range []string{"round_robin", "least_active"} {
		b.Run("cluster-"+policy, func(b *testing.B) {
			c, err := NewCluster("bench", Endpoints(addr), ClusterOptions{LB: policy, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			call := &gateway.Call{Service: "test.Svc", Method: "whoami", Timeout: time.Second}
			var r gateway.Reply
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := c.Invoke(ctx, call, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
