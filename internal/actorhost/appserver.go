package actorhost

import (
	"context"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// NewAppServer returns the gRPC server a sidecar with a gRPC app channel
// calls: its health checks are answered by ready (nil: healthy), and the
// app has no subscriptions, bindings or service-invocation methods (actor
// calls come over the Host's stream instead).
func NewAppServer(ready func(context.Context) error, opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(opts...)
	cb := appCallback{ready: ready}
	runtimev1pb.RegisterAppCallbackServer(s, cb)
	runtimev1pb.RegisterAppCallbackHealthCheckServer(s, cb)
	return s
}

type appCallback struct {
	runtimev1pb.UnimplementedAppCallbackServer
	runtimev1pb.UnimplementedAppCallbackHealthCheckServer
	ready func(context.Context) error
}

func (c appCallback) HealthCheck(ctx context.Context, _ *emptypb.Empty) (*runtimev1pb.HealthCheckResponse, error) {
	if err := c.ready(ctx); err != nil {
		return nil, status.Error(codes.Unavailable, "not ready")
	}
	return &runtimev1pb.HealthCheckResponse{}, nil
}

func (appCallback) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	return &runtimev1pb.ListTopicSubscriptionsResponse{}, nil
}

func (appCallback) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	return &runtimev1pb.ListInputBindingsResponse{}, nil
}

func (appCallback) OnInvoke(context.Context, *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "this app serves no service invocation")
}
