package devstack

// SetBeforeSidecarStart sets the hook run before each sidecar start of a
// stack's first start; nil removes it.
func SetBeforeSidecarStart(fn func(appID string, grpcPort int)) { beforeSidecarStart = fn }
