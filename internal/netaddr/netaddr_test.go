package netaddr

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"localhost.", true},
		{"api.localhost", true},
		{"a.b.Localhost.", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"localhost.example.com", false},
		{"notlocalhost", false},
		{"mylocalhost", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"api.optimly.io", false},
		{"127.0.0.1.nip.io", false},
	} {
		if got := IsLoopbackHost(tt.host); got != tt.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/v1", true},
		{"http://[::1]:9000", true},
		{"https://agent.localhost:8443/x", true},
		{"http://LocalHost", true},
		{"https://api.optimly.io", false},
		{"http://[::1", false}, // does not parse
		{"", false},
	} {
		if got := IsLoopbackURL(tt.url); got != tt.want {
			t.Errorf("IsLoopbackURL(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
