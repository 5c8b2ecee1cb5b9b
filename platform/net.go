package platform

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
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
	iface      string
	dest, mask uint32
	metric     int
}

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
			if err1 != nil || err2 != nil {
				continue
			}
			metric, _ := strconv.Atoi(fs[6])
			routes = append(routes, route{fs[0], uint32(dest), uint32(mask), metric})
			if dest == 0 && mask == 0 && f.Net.DefaultVia == "" {
				f.Net.DefaultVia = fs[0]
			}
		}
	}
	for _, tab := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := h.ReadFile(tab)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// st 01 is ESTABLISHED; local port 22 is an inbound SSH session.
			if len(fs) < 4 || fs[3] != "01" || !strings.HasSuffix(fs[1], ":0016") {
				continue
			}
			f.Net.SSHVia = append(f.Net.SSHVia, lookup(routes, fs[2]))
		}
	}
	if f.Net.DefaultVia != "" {
		f.Evidence = append(f.Evidence, fmt.Sprintf("network: default route via %s; %d inbound SSH sessions", f.Net.DefaultVia, len(f.Net.SSHVia)))
	}
}

// lookup routes a /proc/net/tcp remote address ("0100007F:D431", the IPv4
// bytes in host order) by longest prefix. IPv6 sessions, and IPv4-mapped
// ones, are matched only when mapped; otherwise "?".
func lookup(routes []route, remote string) string {
	addr, _, _ := strings.Cut(remote, ":")
	raw, err := hex.DecodeString(addr)
	if err != nil {
		return "?"
	}
	var ip net.IP
	switch len(raw) {
	case 4:
		ip = net.IPv4(raw[3], raw[2], raw[1], raw[0])
	case 16:
		// Four host-order 32-bit words.
		b := make([]byte, 16)
		for i := 0; i < 4; i++ {
			binary.BigEndian.PutUint32(b[i*4:], binary.LittleEndian.Uint32(raw[i*4:]))
		}
		ip = net.IP(b)
		if ip.To4() == nil {
			return "?"
		}
	default:
		return "?"
	}
	v4 := ip.To4()
	// /proc/net/route prints addresses in host (little-endian) order too.
	a := binary.LittleEndian.Uint32(v4)
	best, bestLen, bestMetric := "?", -1, 0
	for _, r := range routes {
		if a&r.mask == r.dest {
			if n := onesCount(r.mask); n > bestLen || n == bestLen && r.metric < bestMetric {
				best, bestLen, bestMetric = r.iface, n, r.metric
			}
		}
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
