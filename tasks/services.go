package tasks

import (
	"fmt"
	"path"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/resource"
)

type bluetooth struct{}

func (bluetooth) Name() string { return "bluetooth" }
func (bluetooth) Default(f *platform.Facts) (bool, string) {
	if f.Platform.IsRaspberryPi() {
		return true, ""
	}
	return false, "opt-in on " + string(f.Platform)
}

func (bluetooth) Plan(c *Context) Result {
	u := resource.Unit("bluetooth.service")
	cur, err := u.Read(c.Host)
	if err != nil {
		return Result{Skip: err.Error()}
	}
	if !cur.Exists {
		return Result{Skip: "bluetooth.service is not installed"}
	}
	return Result{Wants: []Want{{Resource: u, Desired: u.Disabled(cur)}}}
}

type fstrim struct{}

func (fstrim) Name() string { return "fstrim" }

func (fstrim) Default(f *platform.Facts) (bool, string) {
	for _, b := range f.Block {
		if !b.Root {
			continue
		}
		switch {
		case b.SDCard:
			return false, "root is on an SD card (" + b.Name + ")"
		case b.Rotational:
			return false, "root disk " + b.Name + " is rotational"
		}
		return true, ""
	}
	return false, "root disk unknown (no /proc/mounts): enable it in the profile for an SSD image"
}

func (fstrim) Plan(c *Context) Result {
	u := resource.Unit("fstrim.timer")
	cur, err := u.Read(c.Host)
	if err != nil {
		return Result{Skip: err.Error()}
	}
	if !cur.Exists {
		return Result{Skip: "fstrim.timer is not installed (util-linux)"}
	}
	want, err := u.Enabled(c.Host, cur)
	if err != nil {
		return Result{Skip: err.Error()}
	}
	return Result{Wants: []Want{{Resource: u, Desired: want}}}
}

const (
	rfkillClass = "/sys/class/rfkill"
	rfkillSaved = "/var/lib/systemd/rfkill"
	// NMState is where NetworkManager keeps WirelessEnabled across boots.
	NMState = "/var/lib/NetworkManager/NetworkManager.state"
)

type wifi struct{}

func (wifi) Name() string { return "wifi" }
func (wifi) Default(f *platform.Facts) (bool, string) {
	if f.Platform.IsRaspberryPi() {
		return true, ""
	}
	return false, "opt-in on " + string(f.Platform)
}

// wifiGuard says why blocking WiFi could lock the owner out, or "".
func wifiGuard(f *platform.Facts) string {
	n := f.Net
	for _, via := range []string{n.DefaultVia, n.DefaultVia6} {
		if l, ok := n.Link(via); ok && l.Wireless {
			return "the default route goes through " + l.Name + ", a wireless interface"
		}
	}
	for _, via := range n.SSHVia {
		if via == "?" {
			return "an SSH session's interface cannot be told (no route, several equal ones, or a link-local IPv6 peer); not risking it"
		}
		if l, ok := n.Link(via); ok && l.Wireless {
			return "an SSH session comes in through " + via + ", a wireless interface"
		}
	}
	for _, l := range n.Links {
		if !l.Wireless && l.Physical && l.Carrier {
			return ""
		}
	}
	return "no wired interface has carrier"
}

func (wifi) Plan(c *Context) Result {
	var r Result
	if c.Facts.Runtime {
		ents, _ := c.Host.ReadDir(rfkillClass)
		for _, e := range ents {
			d := path.Join(rfkillClass, e.Name())
			typ, _ := c.Host.ReadFile(d + "/type")
			if strings.TrimSpace(string(typ)) != "wlan" {
				continue
			}
			name, _ := c.Host.ReadFile(d + "/name")
			if hard, _ := c.Host.ReadFile(d + "/hard"); strings.TrimSpace(string(hard)) == "1" {
				r.Notes = append(r.Notes, fmt.Sprintf("%s (%s) is hard-blocked by a switch or firmware; left as it is", e.Name(), strings.TrimSpace(string(name))))
				continue
			}
			r.Wants = append(r.Wants, Want{Resource: resource.SysfsAttr(d + "/soft"), Desired: resource.Value("1")})
		}
		if len(r.Wants) == 0 && len(r.Notes) == 0 {
			return Result{Skip: "no WLAN radio (no rfkill device of type wlan)"}
		}
		if why := wifiGuard(c.Facts); why != "" {
			return Result{Skip: "guard: " + why}
		}
	}
	// systemd-rfkill restores the saved state at boot; a device without a
	// file yet gets one when systemd-rfkill saves at shutdown.
	saved, _ := c.Host.ReadDir(rfkillSaved)
	for _, e := range saved {
		if strings.HasSuffix(e.Name(), ":wlan") {
			p := path.Join(rfkillSaved, e.Name())
			cur, err := resource.File(p).Read(c.Host)
			if err == nil && cur.Exists {
				want := cur
				want.Data = []byte("1\n")
				r.Wants = append(r.Wants, Want{Resource: resource.File(p), Desired: want})
			}
		}
	}
	if resource.Unit("NetworkManager.service").Installed(c.Host) {
		cur, err := resource.File(NMState).Read(c.Host)
		if err != nil {
			return Result{Skip: err.Error()}
		}
		want := resource.Content(SetINI(cur.Data, "main", "WirelessEnabled", "false"))
		if cur.Exists {
			want.Mode, want.UID, want.GID = cur.Mode, cur.UID, cur.GID
		}
		want.MissingDirs = nil
		r.Wants = append(r.Wants, Want{Resource: resource.File(NMState), Desired: want})
		r.Notes = append(r.Notes, "NetworkManager is installed: WirelessEnabled=false in its state file, or it turns WiFi back on")
	}
	return r
}

// SetINI sets key=value in [section] of an INI file, changing only that
// line (or adding it right after the section header, or the section at the
// end).
func SetINI(data []byte, section, key, value string) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	in, header := false, -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			in = t == "["+section+"]"
			if in {
				header = i
			}
			continue
		}
		if k, _, ok := strings.Cut(t, "="); in && ok && strings.TrimSpace(k) == key {
			nl := ""
			if strings.HasSuffix(l, "\n") {
				nl = "\n"
			}
			lines[i] = key + "=" + value + nl
			return []byte(strings.Join(lines, ""))
		}
	}
	add := key + "=" + value + "\n"
	if header >= 0 {
		if !strings.HasSuffix(lines[header], "\n") {
			lines[header] += "\n"
		}
		lines = append(lines[:header+1], append([]string{add}, lines[header+1:]...)...)
		return []byte(strings.Join(lines, ""))
	}
	s := string(data)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + "[" + section + "]\n" + add)
}
