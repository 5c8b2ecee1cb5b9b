package hostpath

import "strings"

// SysctlKey is a sysctl key as systemd-sysctl and udev's SYSCTL{} read it
// (sysctl_normalize(), src/shared/sysctl-util.c), in the dotted form
// ezedge-host names keys by. systemd makes the key a path under
// /proc/sys: when its first separator is a dot, dots and slashes swap
// ("net.ipv4.conf.eth0/100.rp_filter" is the interface "eth0.100"); the
// path is then simplified ("net//core/" is "net/core") and a leading
// slash dropped. The dotted form swaps them back, so two spellings of one
// key are one string.
func SysctlKey(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "./"); i >= 0 && s[i] == '.' {
		s = swapDotsSlashes(s)
	}
	s = Simplify(s)
	if len(s) > 1 && s[0] == '/' {
		s = s[1:]
	}
	return swapDotsSlashes(s)
}

// SysctlFile is the file under /proc/sys a dotted key names.
func SysctlFile(dotted string) string {
	return "/proc/sys/" + swapDotsSlashes(dotted)
}

func swapDotsSlashes(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}
