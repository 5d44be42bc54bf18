//go:build tools

// Package dapr pins the Dapr runtime commands this module builds (daprd
// itself is ./daprd, upstream's runtime with fewer components).
package dapr

import (
	_ "github.com/dapr/dapr/cmd/daprd"
	_ "github.com/dapr/dapr/cmd/placement"
	_ "github.com/dapr/dapr/cmd/scheduler"
)
