package platform

import (
	"path"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// sshPorts are the TCP ports an SSH session can come in on: 22, every Port
// and ListenAddress port of sshd_config and the files it includes, and the
// ListenStream ports of a socket-activated ssh.socket.
func sshPorts(h *hostroot.Root) map[uint64]bool {
	ports := map[uint64]bool{22: true}
	readSSHDConfig(h, "/etc/ssh/sshd_config", ports, map[string]bool{})
	// The socket as the running systemd has it: its fragment and drop-ins
	// (a reset by an empty ListenStream= included), /run's too.
	for _, s := range unitfile.LoadNow(h, "ssh.socket").All("Socket", "ListenStream") {
		if p, ok := portOf(s.Value); ok {
			ports[p] = true
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
					pat = "/etc/ssh/" + pat
				}
				for _, inc := range sshdGlob(h, pat) {
					readSSHDConfig(h, inc, ports, seen)
				}
			}
		}
	}
}

// maxIncludes bounds the files one Include pattern may name.
const maxIncludes = 1024

// sshdGlob is what sshd's Include makes of pattern: glob(3), so a wildcard
// may stand in any component and does not match a leading '.'; the files
// named, each with its links and ".." resolved inside the root as the
// kernel resolves them (so that a file is read once, whatever the path
// to it).
func sshdGlob(h *hostroot.Root, pattern string) []string {
	dirs := []string{"/"}
	parts := strings.Split(strings.Trim(pattern, "/"), "/")
	for i, c := range parts {
		if c == "" {
			continue
		}
		var next []string
		for _, d := range dirs {
			if !strings.ContainsAny(c, "*?[") {
				if p, err := hostpath.Chase(h, path.Join(d, c)); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, _ := h.ReadDir(d)
			for _, e := range ents {
				if m, _ := path.Match(c, e.Name()); m && (e.Name()[0] != '.' || c[0] == '.') {
					if p, err := hostpath.Chase(h, path.Join(d, e.Name())); err == nil {
						next = append(next, p)
					}
				}
			}
		}
		if len(next) > maxIncludes {
			next = next[:maxIncludes]
		}
		dirs = next
		if i < len(parts)-1 {
			var keep []string
			for _, d := range dirs {
				if st, err := h.Stat(d); err == nil && st.IsDir() {
					keep = append(keep, d)
				}
			}
			dirs = keep
		}
	}
	var out []string
	for _, p := range dirs {
		if st, err := h.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out
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
