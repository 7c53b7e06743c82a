package httpx

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is a set of CIDR prefixes whose X-Forwarded-For is honoured.
// The zero value trusts nobody: the client IP is always the TCP peer.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses CIDRs or bare addresses.
func ParseTrustedProxies(cidrs []string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return t, err
			}
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return t, err
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

func (t TrustedProxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client address of r: the TCP peer, unless the peer is
// a trusted proxy, in which case X-Forwarded-For is walked from the right and
// the first untrusted address is returned. A malformed entry stops the walk at
// the last good hop, so a client cannot inject an address by garbling the header.
func (t TrustedProxies) ClientIP(r *http.Request) netip.Addr {
	peer := PeerAddr(r)
	if !peer.IsValid() || !t.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	var all []string
	for _, h := range hops {
		all = append(all, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(all) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(all[i]))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !t.trusted(client) {
			return client
		}
	}
	return client
}

// PeerAddr returns the TCP peer address of r, or the zero Addr.
func PeerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// Trusts reports whether a is inside one of the trusted prefixes.
func (t TrustedProxies) Trusts(a netip.Addr) bool { return a.IsValid() && t.trusted(a) }
