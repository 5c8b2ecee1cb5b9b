package platform

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Link is a network interface.
type Link struct {
	Name     string `json:"name"`
	Wireless bool   `json:"wireless"`
	Carrier  bool   `json:"carrier"`
	Physical bool   `json:"physical"`
}

// Net is what the host's network looks like from /sys and /proc.
type Net struct {
	Links []Link `json:"links,omitempty"`
	// DefaultVia is the interface of the IPv4 default route.
	DefaultVia string `json:"default_via,omitempty"`
	// DefaultVia6 is the interface of the IPv6 default route.
	DefaultVia6 string `json:"default_via6,omitempty"`
	// SSHVia lists, per established inbound SSH connection, the interface
	// its replies leave by ("?" when it cannot be told).
	SSHVia []string `json:"ssh_via,omitempty"`
}

// Link finds a link by name.
func (n *Net) Link(name string) (Link, bool) {
	for _, l := range n.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

type route struct {
	iface  string
	pfx    netip.Prefix
	metric uint32
}

// rtfReject marks an unreachable route in /proc/net/ipv6_route (the
// kernel lists "::/0 ... lo" as one on most hosts).
const rtfReject = 0x0200

func (f *Facts) detectNet(h *hostroot.Root) {
	ents, _ := h.ReadDir("/sys/class/net")
	for _, e := range ents {
		d := "/sys/class/net/" + e.Name()
		l := Link{
			Name:     e.Name(),
			Wireless: h.Exists(d+"/wireless") || h.Exists(d+"/phy80211"),
			Carrier:  readTrim(h, d+"/carrier") == "1",
			Physical: h.Exists(d + "/device"),
		}
		f.Net.Links = append(f.Net.Links, l)
	}
	var routes []route
	if b, err := h.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 8 {
				continue
			}
			dest, err1 := strconv.ParseUint(fs[1], 16, 32)
			mask, err2 := strconv.ParseUint(fs[7], 16, 32)
			metric, err3 := strconv.ParseUint(fs[6], 10, 32)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			// Both are printed in host (little-endian) order.
			var a [4]byte
			binary.LittleEndian.PutUint32(a[:], uint32(dest))
			bits := onesCount(uint32(mask))
			routes = append(routes, route{fs[0], netip.PrefixFrom(netip.AddrFrom4(a), bits).Masked(), uint32(metric)})
			if bits == 0 && f.Net.DefaultVia == "" {
				f.Net.DefaultVia = fs[0]
			}
		}
	}
	if b, err := h.ReadFile("/proc/net/ipv6_route"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 10 {
				continue
			}
			raw, err1 := hex.DecodeString(fs[0])
			bits, err2 := strconv.ParseUint(fs[1], 16, 8)
			metric, err3 := strconv.ParseUint(fs[5], 16, 32)
			flags, err4 := strconv.ParseUint(fs[8], 16, 32)
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(raw) != 16 || bits > 128 || flags&rtfReject != 0 {
				continue
			}
			a := netip.AddrFrom16([16]byte(raw))
			routes = append(routes, route{fs[9], netip.PrefixFrom(a, int(bits)).Masked(), uint32(metric)})
			if bits == 0 && f.Net.DefaultVia6 == "" {
				f.Net.DefaultVia6 = fs[9]
			}
		}
	}
	// Which interface holds each IPv6 link-local address.
	linkLocal := map[netip.Addr][]string{}
	if b, err := h.ReadFile("/proc/net/if_inet6"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 6 {
				continue
			}
			raw, err := hex.DecodeString(fs[0])
			if err != nil || len(raw) != 16 {
				continue
			}
			if a := netip.AddrFrom16([16]byte(raw)); a.IsLinkLocalUnicast() {
				linkLocal[a] = append(linkLocal[a], fs[5])
			}
		}
	}
	ports, socks := sshPorts(h), sshdSockets(h)
	for _, tab := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := h.ReadFile(tab)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// st 01 is ESTABLISHED.
			if len(fs) < 10 || fs[3] != "01" {
				continue
			}
			_, lport, _ := strings.Cut(fs[1], ":")
			p, err := strconv.ParseUint(lport, 16, 16)
			if err == nil && ports[p] || socks[fs[9]] {
				f.Net.SSHVia = append(f.Net.SSHVia, sessionVia(routes, linkLocal, fs[1], fs[2]))
			}
		}
	}
	if f.Net.DefaultVia != "" || f.Net.DefaultVia6 != "" {
		f.Evidence = append(f.Evidence, fmt.Sprintf("network: default route via %s (IPv4), %s (IPv6); %d inbound SSH sessions via %s",
			orNone(f.Net.DefaultVia), orNone(f.Net.DefaultVia6), len(f.Net.SSHVia), orNone(strings.Join(f.Net.SSHVia, ","))))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// procAddr reads a /proc/net/tcp{,6} address ("0100007F:D431": 32-bit
// words in host order, then the port).
func procAddr(s string) (netip.Addr, bool) {
	addr, _, _ := strings.Cut(s, ":")
	raw, err := hex.DecodeString(addr)
	if err != nil || len(raw)%4 != 0 || len(raw) == 0 {
		return netip.Addr{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	ip, ok := netip.AddrFromSlice(b)
	return ip.Unmap(), ok
}

// sessionVia is the interface an SSH session's replies leave by. A
// link-local peer (raspberrypi.local often resolves to one) is on the link
// of the session's own link-local address, which /proc/net/if_inet6 names;
// any other peer is routed.
func sessionVia(routes []route, linkLocal map[netip.Addr][]string, local, remote string) string {
	if ip, ok := procAddr(remote); ok && ip.IsLinkLocalUnicast() {
		if l, ok := procAddr(local); ok && len(linkLocal[l]) == 1 {
			return linkLocal[l][0]
		}
		return "?"
	}
	return lookup(routes, remote)
}

// lookup routes a /proc/net/tcp{,6} remote address ("0100007F:D431": the
// address as 32-bit words in host order) by longest prefix, then lowest
// metric. "?" when no route matches or two interfaces tie (a link-local
// IPv6 peer, whose scope /proc/net/tcp6 does not show, or multipath).
func lookup(routes []route, remote string) string {
	ip, ok := procAddr(remote)
	if !ok {
		return "?"
	}
	best, bestLen, bestMetric, tie := "?", -1, uint32(0), false
	for _, r := range routes {
		if r.pfx.Addr().Is4() != ip.Is4() || !r.pfx.Contains(ip) {
			continue
		}
		switch n := r.pfx.Bits(); {
		case n > bestLen || n == bestLen && r.metric < bestMetric:
			best, bestLen, bestMetric, tie = r.iface, n, r.metric, false
		case n == bestLen && r.metric == bestMetric && r.iface != best:
			tie = true
		}
	}
	if tie {
		return "?"
	}
	return best
}

func onesCount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
