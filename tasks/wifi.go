package tasks

import (
	"fmt"
	"path"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// WifiOptions are wifi's profile options.
type WifiOptions struct {
	Wired bool `yaml:"wired" doc:"the device is reached over a wired link: an image (which has no network to look at) gets WiFi blocked too; a live host is always guarded"`
}

// imageWifi is why an image keeps its WiFi: nothing offline says how the
// device will be reached, and a Pi reached over WiFi must not boot with
// it blocked. Firstboot's apply on the device runs the guard there.
const imageWifi = "an image has no network to look at: left to the device, where the guard runs (a firstboot-provisioned image applies there); set wired: true in the profile if the device is reached over a wired link"

// NMState is where NetworkManager keeps WirelessEnabled across boots.
const NMState = "/var/lib/NetworkManager/NetworkManager.state"

func init() {
	// systemd-rfkill's saved states and NetworkManager's, edited where
	// they are, never through a link out of their directories.
	resource.Edit(platform.RfkillSaved+"/", platform.RfkillSaved)
	resource.Edit(NMState, path.Dir(NMState))
	Register(Def[WifiOptions]{
		Name: "wifi", Order: 100,
		Summary: "soft-block every WLAN rfkill switch, now and across boots (systemd-rfkill's saved state, NetworkManager's WirelessEnabled=false); guarded",
		When:    "on Raspberry Pi, guarded; opt-in elsewhere",
		Observe: platform.Observe{Units: []string{"NetworkManager.service"}},
		Default: onPi,
		Plan:    planWifi,
	})
}

// wifiGuard says why blocking WiFi could lock the owner out, or "".
func wifiGuard(f *Facts) string {
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

func planWifi(f *Facts, o *WifiOptions) Intent {
	var in Intent
	if !f.Runtime {
		if !o.Wired {
			return Skip(imageWifi)
		}
		in.Notes = append(in.Notes, "wired: true in the profile: blocked on the image for a device reached over a wired link")
	}
	if f.Runtime {
		for _, r := range f.Radios {
			if r.Type != "wlan" {
				continue
			}
			if r.Hard {
				in.Notes = append(in.Notes, fmt.Sprintf("%s (%s) is hard-blocked by a switch or firmware; left as it is", r.Name, r.Device))
				continue
			}
			in.Wants = append(in.Wants, Want{Resource: resource.SysfsAttr(path.Join("/sys/class/rfkill", r.Name, "soft")), Desired: resource.Value("1")})
		}
		if len(in.Wants) == 0 && len(in.Notes) == 0 {
			return Skip("no WLAN radio (no rfkill device of type wlan)")
		}
		if why := wifiGuard(f); why != "" {
			return Skip("guard: " + why)
		}
	}
	// systemd-rfkill restores the saved state at boot; a device without a
	// file yet gets one when systemd-rfkill saves at shutdown.
	for _, name := range f.RfkillSaved {
		if strings.HasSuffix(name, ":wlan") {
			in.Wants = append(in.Wants, Want{Resource: resource.File(path.Join(platform.RfkillSaved, name)), Edit: func(cur resource.State) resource.State {
				if !cur.Exists {
					return cur
				}
				cur.Data = []byte("1\n")
				return cur
			}})
		}
	}
	if f.Units["NetworkManager.service"].Installed {
		in.Wants = append(in.Wants, Want{Resource: resource.File(NMState), Edit: func(cur resource.State) resource.State {
			want := resource.Content(SetINI(cur.Data, "main", "WirelessEnabled", "false"))
			if cur.Exists {
				want.Mode, want.UID, want.GID = cur.Mode, cur.UID, cur.GID
			}
			return want
		}})
		in.Notes = append(in.Notes, "NetworkManager is installed: WirelessEnabled=false in its state file, or it turns WiFi back on")
	}
	return in
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
