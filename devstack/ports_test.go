package devstack

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The kernel gives ports from its ephemeral range to every outgoing
// connection; a port picked there can be taken before daprd binds it.
func TestPickedPortsLieBelowTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no Linux ephemeral port range here: %v", err)
	}
	ephemeralLow, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := newPortPool()
	defer pool.release()
	seen := map[int]bool{}
	for range 50 {
		port, err := pool.next()
		if err != nil {
			t.Fatal(err)
		}
		if port >= ephemeralLow || port < 1024 {
			t.Fatalf("picked port %d, want one in 1024-%d (below the ephemeral range)", port, ephemeralLow-1)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
}

func TestAClaimedPortIsNotPickedAgainUntilReleased(t *testing.T) {
	a := newPortPool()
	port, err := a.next()
	if err != nil {
		t.Fatal(err)
	}
	// Another stack, here or in another process, opens its own lock file.
	if c, ok := tryClaim(port); ok {
		c.release()
		t.Fatalf("port %d claimed twice while its first stack holds it", port)
	}
	b := newPortPool()
	defer b.release()
	for range 20 {
		other, err := b.next()
		if err != nil {
			t.Fatal(err)
		}
		if other == port {
			t.Fatalf("a second stack got port %d, which the first holds", port)
		}
	}
	a.release()
	c, ok := tryClaim(port)
	if !ok {
		t.Fatalf("port %d still held after its stack released it", port)
	}
	c.release()
}

func TestAPortSomethingListensOnIsNotClaimed(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if c, ok := tryClaim(port); ok {
			c.release()
			t.Errorf("claimed port %d while %s listens on it", port, addr)
		}
		_ = ln.Close()
	}
}
