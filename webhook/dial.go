package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// nonPublic are the ranges that netip's predicates do not name but that
// are no place for a webhook either (RFC 6890 special-purpose addresses).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, often cluster-internal
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may map onto any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): ::127.0.0.1
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Public reports whether ip is an address on the internet at large: not
// loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, which
// holds cloud metadata services, fe80::/10), multicast, unspecified or
// another special-purpose range.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func addressKind(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	default:
		return "non-public"
	}
}

// ErrRefusedAddress: the URL's host resolved to an address webhooks may
// not reach (see Public). The error that wraps it names the address.
var ErrRefusedAddress = errors.New("refused to connect to a non-public address")

type refusedError struct{ host, kind string }

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s is a %s address; webhooks reach public addresses only", e.host, e.kind)
}

func (e *refusedError) Is(target error) bool { return target == ErrRefusedAddress }

// refuse is the dialer's Control: it sees the address actually being
// dialled, after name resolution, so neither a name that resolves to a
// private address nor one that changes between registration and delivery
// (DNS rebinding) reaches inside the network.
func refuse(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &refusedError{host: address, kind: "malformed"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !Public(ip) {
		return &refusedError{host: host, kind: addressKind(ip)}
	}
	return nil
}

// NewClient returns the HTTP client deliveries are sent with: timeout for
// the whole exchange, no proxy from the environment (the address check
// must see the receiver's address), redirects not followed (a 3xx is a
// failed attempt, and a redirect could point anywhere), and, unless
// allowPrivate, connections only to public addresses.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refuse
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   min(timeout, 5*time.Second),
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
