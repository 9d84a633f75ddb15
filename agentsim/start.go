package agentsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// Running is a simulated agent serving on a local address.
type Running struct {
	// URL is the base URL, e.g. http://127.0.0.1:38213.
	URL string
	// Server is the handler, for its Stats and SetFaults.
	Server *Server
	srv    *http.Server
	ln     net.Listener
	done   chan error
}

// ErrNotLoopback is returned by StartWith for an address that is not a
// loopback address when non-loopback addresses are not allowed.
var ErrNotLoopback = errors.New("address is not a loopback address (127.0.0.1, [::1] or localhost)")

// Start serves a new Server for a on addr, "127.0.0.1:0" (a free port) when
// empty. It refuses any address that is not loopback; see StartWith.
func Start(a *Agent, addr string) (*Running, error) {
	return StartWith(a, addr, false)
}

// StartWith is Start, except that allowNonLoopback permits listening on any
// address (e.g. ":8787" or a LAN address) for `evalrun serve`.
func StartWith(a *Agent, addr string, allowNonLoopback bool) (*Running, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: want host:port such as 127.0.0.1:8787: %w", addr, err)
	}
	if !allowNonLoopback && !isLoopbackHost(host) {
		return nil, fmt.Errorf("listen address %q: %w; pass allowNonLoopback to listen elsewhere", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulated agent: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !allowNonLoopback && !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("listen address %q resolved to %s: %w", addr, tcp.IP, ErrNotLoopback)
	}
	s := New(a)
	r := &Running{
		URL:    "http://" + ln.Addr().String(),
		Server: s,
		srv: &http.Server{
			Handler:           s,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// The server logs nothing: the library never prints.
			ErrorLog: log.New(io.Discard, "", 0),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops the server: it stops accepting, gives calls in flight up to a
// second to finish, then closes every connection. It returns once the server
// has stopped.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if err != nil {
		err = r.srv.Close()
	}
	if serr := <-r.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
