//go:build tools

// Package dapr pins the Dapr runtime commands this module builds.
package dapr

import (
	_ "github.com/dapr/dapr/cmd/daprd"
	_ "github.com/dapr/dapr/cmd/placement"
	_ "github.com/dapr/dapr/cmd/scheduler"
)
