package devstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Ports are picked from below the kernel's ephemeral range and claimed with
// a lock file, so a port devstack picked stays free until its process binds
// it. A port from "127.0.0.1:0" does not: the kernel hands the same range
// out to every outgoing connection on the machine, and CI lost stacks to a
// scheduler's etcd port and a sidecar's gRPC port taken that way in the
// seconds between the pick and daprd's bind. The lock file keeps two test
// processes (go test runs packages in parallel) from picking the same port.

// lockDir holds one lock file per claimed port; a lock lasts until its file
// is closed or the process exits, however it exits.
var lockDir = filepath.Join(os.TempDir(), "taskflow-ports")

// pickRange is where ports are picked: the 8,000 ports just below the
// ephemeral range, which nothing on the machine gets unless it asks for
// that number.
var pickRange = sync.OnceValues(func() (int, int) {
	ephemeralLow := 32768 // Linux's default; macOS starts at 49152
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 10000 {
				ephemeralLow = n
			}
		}
	}
	return ephemeralLow - 8000, ephemeralLow - 1
})

// claim is a port this process has locked.
type claim struct {
	port int
	lock *os.File
}

func (c claim) release() { _ = c.lock.Close() }

// claimPort locks a port in pickRange that nothing listens on and no other
// devstack holds; skip names ports the caller already holds.
func claimPort(skip func(int) bool) (claim, error) {
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return claim{}, fmt.Errorf("find a free port: %w", err)
	}
	lo, hi := pickRange()
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := lo + (start+i)%n
		if skip(port) {
			continue
		}
		if c, ok := tryClaim(port); ok {
			return c, nil
		}
	}
	return claim{}, fmt.Errorf("find a free port: every port in %d-%d is taken", lo, hi)
}

func tryClaim(port int) (claim, bool) {
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return claim{}, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return claim{}, false
	}
	// Some servers bind the loopback address, others every interface.
	for _, addr := range []string{"127.0.0.1", ""} {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err != nil {
			_ = f.Close()
			return claim{}, false
		}
		_ = ln.Close()
	}
	return claim{port: port, lock: f}, true
}

// portPool hands out claimed free ports, never the same one twice, and
// releases them when the stack is closed. Safe for concurrent use.
type portPool struct {
	mu     sync.Mutex
	used   map[int]bool
	claims []claim
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
	c, err := claimPort(func(port int) bool { return p.used[port] })
	if err != nil {
		return 0, err
	}
	p.used[c.port] = true
	p.claims = append(p.claims, c)
	return c.port, nil
}

// release gives the claimed ports back, once nothing of the stack runs.
func (p *portPool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.claims {
		c.release()
	}
	p.claims = nil
}
