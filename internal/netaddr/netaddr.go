// Package netaddr holds the one definition of "this machine" that the
// transports (plain http:// allowed), the quota defaults (no published
// limits against one's own server) and the result merger share.
package netaddr

import (
	"net"
	"net/url"
	"strings"
)

// IsLoopbackHost reports whether host (a URL's Hostname: no port, no
// brackets) names this machine: "localhost" or any "*.localhost" name (RFC
// 6761 reserves them for loopback), in any case and with or without a final
// dot, or a loopback IP address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104).
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackURL reports whether the URL's host is this machine (see
// IsLoopbackHost); false when raw does not parse.
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	return IsLoopbackHost(u.Hostname())
}
