package lb_test

import (
	"testing"

	"github.com/meshgate/meshgate/gateway/upstream/lb"
)

// FuzzPick builds every variant (each policy, Grouped over each) over
// endpoints described by data — one byte per endpoint: weight from the
// low bits, unavailable when bit 6 is set, tried when bit 7 is set — and
// checks the Picker contract for a pick with key: the result is in range,
// not tried, available when an available untried endpoint exists, and -1
// only when every endpoint is tried.
func FuzzPick(f *testing.F) {
	f.Add([]byte{}, "")
	f.Add([]byte{0x01}, "k")
	f.Add([]byte{0x81, 0x02, 0x43}, "")
	f.Add([]byte{0xff, 0xff, 0xff}, "user-1")
	f.Add([]byte{0x40, 0x40, 0x40, 0x80, 0x3f}, "x")
	seed := make([]byte, 64)
	for i := range seed {
		seed[i] = byte(i * 37)
	}
	f.Add(seed, "session-9")
	vs := variants(f)
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		if len(data) > 64 {
			data = data[:64] // larger lists (and Tried past 128) are covered by TestConformance
		}
		eps := make([]*ep, len(data))
		list := make([]lb.Endpoint, len(data))
		var tr lb.Tried
		for i, b := range data {
			eps[i] = &ep{addr: string(rune('a'+i%26)) + string(rune('0'+i/26)), weight: int(b & 0x3f)}
			eps[i].down.Store(b&0x40 != 0)
			if b&0x80 != 0 {
				tr.Add(i)
			}
			list[i] = eps[i]
		}
		for _, v := range vs {
			p := v.build(list)
			for _, r := range []*lb.Request{{Key: key, Tried: &tr}, {Key: key}, {Tried: &tr}} {
				checkPick(t, list, r, p.Pick(r))
			}
		}
	})
}
