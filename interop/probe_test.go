package interop

import (
	"testing"

	motan "github.com/weibocom/motan-go/core"
	"github.com/weibocom/motan-go/endpoint"
	vlog "github.com/weibocom/motan-go/log"
	mpro "github.com/weibocom/motan-go/protocol"
	"github.com/weibocom/motan-go/serialize"
	"github.com/weibocom/motan-go/server"
)

func TestProbe(t *testing.T) {
	_ = motan.URL{}
	_ = endpoint.MotanCommonEndpoint{}
	_ = server.MotanServer{}
	_ = serialize.SimpleSerialization{}
	_ = mpro.Message{}
	vlog.Infof("x")
}
