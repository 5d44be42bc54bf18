package devstack

import (
	"fmt"
	"net"
	"sync"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on right now.
// Another process may take it before the caller binds it; devstack accepts
// that small race, as every "free port" helper must.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// portPool hands out free ports, never the same one twice: the kernel may
// return a port again once its probe listener is closed, before the process
// meant to use it has bound it. Safe for concurrent use.
type portPool struct {
	mu   sync.Mutex
	used map[int]bool
}

func newPortPool() *portPool { return &portPool{used: map[int]bool{}} }

// reserve marks ports chosen elsewhere (fixed ports of the run file) as taken.
func (p *portPool) reserve(ports ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, port := range ports {
		if port > 0 {
			p.used[port] = true
		}
	}
}

func (p *portPool) next() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 100 {
		port, err := FreePort()
		if err != nil {
			return 0, err
		}
		if !p.used[port] {
			p.used[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port: no unused port in 100 tries")
}
