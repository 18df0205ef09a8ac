package api

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// hostCheck decides which Host headers the server answers. A browser on
// the controller's machine can be made to send requests to it from any web
// page (DNS rebinding: a name the attacker controls resolving to
// 127.0.0.1); such requests carry the attacker's name in Host, which is
// not one of the names checked here.
type hostCheck struct {
	listen   map[string]bool // "host:port" of each listen address, lower case; loopback forms included
	anyIP    map[string]bool // ports listened on every interface: any IP literal on them
	extHost  string          // external_url's host, lower case; "" when unset
	extPorts map[string]bool // ports external_url may be reached on ("" = none given)
}

// RestrictHosts makes the server answer only requests whose Host header
// names it: one of the listen addresses ("host:port"; give the bound
// address, with the actual port, and the configured one when it names the
// host), localhost or a loopback address with a listen port, any IP
// address with that port when a listen host is unspecified (0.0.0.0, ::,
// empty), or the host of externalURL (when not empty; the URL the server
// is reached at through a proxy or a DNS name). Other requests get 421
// with a JSON error. GET /healthz and GET /readyz are exempt: probes (load
// balancers, orchestrators) address the server by whatever name or
// address they know, and the answers carry nothing a page could misuse.
func (s *Server) RestrictHosts(externalURL string, listen ...string) error {
	hc := &hostCheck{listen: map[string]bool{}, anyIP: map[string]bool{}}
	for _, l := range listen {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", l, err)
		}
		if port == "0" {
			continue // not the port served; the bound address has it
		}
		host = strings.ToLower(host)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			hc.anyIP[port] = true
		} else {
			hc.listen[net.JoinHostPort(host, port)] = true
		}
		for _, lo := range []string{"localhost", "127.0.0.1", "::1"} {
			hc.listen[net.JoinHostPort(lo, port)] = true
		}
	}
	if externalURL != "" {
		u, err := url.Parse(externalURL)
		if err != nil || u.Hostname() == "" {
			return fmt.Errorf("external_url %q is not an absolute URL", externalURL)
		}
		hc.extHost = strings.ToLower(u.Hostname())
		hc.extPorts = map[string]bool{u.Port(): true}
		if u.Port() == "" {
			hc.extPorts[map[string]string{"https": "443", "http": "80"}[u.Scheme]] = true
		}
	}
	s.hosts = hc
	return nil
}

// allowed reports whether the Host header names this server.
func (hc *hostCheck) allowed(hostHeader string) bool {
	host, port := hostHeader, ""
	if h, p, err := net.SplitHostPort(hostHeader); err == nil {
		host, port = h, p
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if hc.extHost != "" && host == hc.extHost && hc.extPorts[port] {
		return true
	}
	if port == "" {
		port = "80"
	}
	ip := net.ParseIP(host)
	switch {
	case hc.listen[net.JoinHostPort(host, port)]:
		return true
	case ip != nil && (ip.IsLoopback() && hc.listen[net.JoinHostPort("localhost", port)]):
		return true // any loopback address: 127.0.0.0/8 and ::1 in its forms
	case ip != nil && hc.anyIP[port]:
		return true
	case ip != nil && hc.listen[net.JoinHostPort(ip.String(), port)]:
		return true // another spelling of a listen IP
	}
	return false
}

// hostExempt are the paths answered whatever the Host header says.
func hostExempt(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
}

// checkHost answers a request for another host with 421; false means a
// response was sent.
func (s *Server) checkHost(w http.ResponseWriter, r *http.Request) bool {
	if s.hosts == nil || hostExempt(r) || s.hosts.allowed(r.Host) {
		return true
	}
	s.log.Warn("request for another host refused", "host", r.Host, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here: use the listen address, localhost, or the host of external_url", r.Host))
	return false
}
