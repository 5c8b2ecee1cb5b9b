package platform

import "testing"

func TestPortOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{
		"2222": 2222, "0.0.0.0:2222": 2222, "[::]:2222": 2222, "host.lan:2200": 2200,
		"fe80::1": 0, "::": 0, "[::1]": 0, "/run/ssh.sock": 0, "0": 0, "70000": 0, "": 0,
	} {
		got, ok := portOf(in)
		if !ok {
			got = 0
		}
		if got != want {
			t.Errorf("portOf(%q) = %d, want %d", in, got, want)
		}
	}
}
