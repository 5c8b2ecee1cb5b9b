package platform

import (
	"path"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// sshPorts are the TCP ports an SSH session can come in on: 22, every Port
// and ListenAddress port of sshd_config and the files it includes, and the
// ListenStream ports of a socket-activated ssh.socket.
func sshPorts(h *hostroot.Root) map[uint64]bool {
	ports := map[uint64]bool{22: true}
	readSSHDConfig(h, "/etc/ssh/sshd_config", ports, map[string]bool{})
	for _, f := range []string{"/lib/systemd/system/ssh.socket", "/usr/lib/systemd/system/ssh.socket", "/etc/systemd/system/ssh.socket"} {
		unitPorts(h, f, ports)
	}
	for _, d := range []string{"/etc/systemd/system/ssh.socket.d", "/run/systemd/system/ssh.socket.d"} {
		ents, _ := h.ReadDir(d)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".conf") {
				unitPorts(h, path.Join(d, e.Name()), ports)
			}
		}
	}
	return ports
}

// portOf reads the port of "2222", "0.0.0.0:2222", "host:2222" or
// "[::]:2222"; a bare IPv6 address ("fe80::1") has none.
func portOf(s string) (uint64, bool) {
	if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		return 0, false
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	p, err := strconv.ParseUint(s, 10, 16)
	return p, err == nil && p > 0
}

// readSSHDConfig adds the ports of name and what it includes. Ports are a
// union, so each file is read once: includes cannot loop or multiply.
func readSSHDConfig(h *hostroot.Root, name string, ports map[uint64]bool, seen map[string]bool) {
	if seen[name] {
		return
	}
	seen[name] = true
	b, err := h.ReadFile(name)
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "port":
			if p, ok := portOf(f[1]); ok {
				ports[p] = true
			}
		case "listenaddress":
			if p, ok := portOf(f[1]); ok && strings.Contains(f[1], ":") {
				ports[p] = true
			}
		case "include":
			for _, pat := range f[1:] {
				if !path.IsAbs(pat) {
					pat = path.Join("/etc/ssh", pat)
				}
				ents, _ := h.ReadDir(path.Dir(pat))
				for _, e := range ents {
					if m, _ := path.Match(path.Base(pat), e.Name()); m {
						readSSHDConfig(h, path.Join(path.Dir(pat), e.Name()), ports, seen)
					}
				}
			}
		}
	}
}

func unitPorts(h *hostroot.Root, name string, ports map[uint64]bool) {
	b, err := h.ReadFile(name)
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "ListenStream="); ok {
			if p, ok := portOf(strings.TrimSpace(v)); ok {
				ports[p] = true
			}
		}
	}
}

// sshdSockets are the socket inodes open in sshd processes: an established
// one is an SSH session on whatever port. Empty where /proc/PID/fd cannot
// be read (not root), and then the ports decide alone.
func sshdSockets(h *hostroot.Root) map[string]bool {
	out := map[string]bool{}
	ents, _ := h.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := h.ReadFile("/proc/" + e.Name() + "/comm")
		// OpenSSH 9.8 moved sessions into sshd-session processes.
		if c := strings.TrimSpace(string(comm)); err != nil || c != "sshd" && c != "sshd-session" {
			continue
		}
		fds, _ := h.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			t, err := h.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name())
			if ino, ok := strings.CutPrefix(t, "socket:["); err == nil && ok {
				out[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	return out
}
