package alloc

import (
	"fmt"
	"strconv"
	"strings"
)

// The forms an allocation is written in, each the way the runtime that
// reads it honours it.
type Form string

const (
	// Compose is a podman-compose override file (-f compose.yaml -f it).
	Compose Form = "compose"
	// Quadlet is a drop-in for a Quadlet .container unit.
	Quadlet Form = "quadlet"
	// Run is plain `podman run` flags.
	Run Form = "run"
)

// Forms are the values --form takes.
var Forms = []Form{Compose, Quadlet, Run}

// ComposeNote says what Debian's podman-compose (1.0.3) makes of the
// override, and so what is left out of it: a key it ignores, or one it
// turns into a container Podman will not run.
const ComposeNote = "podman-compose 1.0.3 (Debian 12) maps limits.cpus, limits.memory and reservations.memory to --cpus, -m and --memory-reservation, ulimits to --ulimit and devices to --device; it ignores reservations.cpus and cpuset, and runs a network_mode: host service on the project's network as well, which Podman refuses (containers/podman-compose#397), so none of these is written: host networking and a cpuset are in the quadlet and run forms only"

// ComposeOverride is the mix as a Compose override file. Service names
// are quoted: a name like "true" or "1" is a string to Compose only so.
func ComposeOverride(a *Allocation) []byte {
	var b strings.Builder
	b.WriteString("# Use with: podman-compose -f compose.yaml -f THIS-FILE up\n")
	b.WriteString("# " + ComposeNote + ".\n")
	b.WriteString("services:\n")
	for _, c := range a.Containers {
		fmt.Fprintf(&b, "  %q:\n", c.Name)
		fmt.Fprintf(&b, "    # %s\n", strings.Join(c.Why, "; "))
		b.WriteString("    deploy:\n      resources:\n        limits:\n")
		fmt.Fprintf(&b, "          cpus: \"%d\"\n          memory: %s\n", c.CPUs, c.Memory)
		fmt.Fprintf(&b, "        reservations:\n          memory: %s\n", c.Reservation)
		if c.Memlock {
			b.WriteString("    ulimits:\n      memlock:\n        soft: -1\n        hard: -1\n")
		}
		if len(c.Devices) > 0 {
			b.WriteString("    devices:\n")
			for _, d := range c.Devices {
				fmt.Fprintf(&b, "      - %q\n", d)
			}
		}
		if len(c.Env) > 0 {
			b.WriteString("    environment:\n")
			for _, e := range c.Env {
				fmt.Fprintf(&b, "      %s: %q\n", e.Name, e.Value)
			}
		}
	}
	return []byte(b.String())
}

// Podman is the installed Podman's version as far as the root shows it.
type Podman struct {
	// Version is the Debian package's version; "" when unknown.
	Version      string
	Major, Minor int
}

// ParsePodman reads a Debian version ("5.4.2+ds1-2", "4.3.1+ds1-8+deb12u1").
func ParsePodman(v string) Podman {
	p := Podman{Version: v}
	if _, rest, ok := strings.Cut(v, ":"); ok { // an epoch
		v = rest
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return Podman{}
	}
	var err1, err2 error
	p.Major, err1 = strconv.Atoi(parts[0])
	p.Minor, err2 = strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return Podman{}
	}
	return p
}

func (p Podman) atLeast(major, minor int) bool {
	return p.Major > major || p.Major == major && p.Minor >= minor
}

// QuadletSupport says whether this Podman reads a drop-in for a
// .container unit (Quadlet came in 4.4, its drop-ins in 5.0) and whether
// its [Container] section has Memory= (5.5); the reason is said either
// way.
func (p Podman) QuadletSupport() (dropIns, memoryKey bool, why string) {
	switch {
	case p.Version == "":
		return true, false, "Podman's version is unknown (no dpkg record): the drop-in needs Podman 5.0 or later; the memory limit goes in PodmanArgs=, which every Quadlet takes"
	case !p.atLeast(4, 4):
		return false, false, fmt.Sprintf("Podman %s has no Quadlet (4.4 or later): use the compose or run form", p.Version)
	case !p.atLeast(5, 0):
		return false, false, fmt.Sprintf("Podman %s reads no Quadlet drop-ins (5.0 or later): put these lines in the unit's own [Container] section", p.Version)
	case !p.atLeast(5, 5):
		return true, false, fmt.Sprintf("Podman %s: Quadlet reads drop-ins; Memory= came in 5.5, so the limit goes in PodmanArgs=", p.Version)
	}
	return true, true, fmt.Sprintf("Podman %s: Quadlet reads drop-ins and Memory=", p.Version)
}

// QuadletPath is the drop-in for container name's unit (rootful Quadlets
// live in /etc/containers/systemd).
func QuadletPath(name string) string {
	return "/etc/containers/systemd/" + name + ".container.d/90-ezedge-host.conf"
}

// QuadletDropIn is c's [Container] lines for Podman p. Quadlet has no key
// for a memory reservation, CPUs or a cpuset: those go in PodmanArgs=.
// Network=, AddDevice= and Ulimit= are as old as Quadlet's drop-ins
// (5.0), the only Quadlets this is written for.
func QuadletDropIn(c Container, p Podman) []byte {
	_, memKey, _ := p.QuadletSupport()
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", strings.Join(c.Why, "; "))
	b.WriteString("[Container]\n")
	args := []string{fmt.Sprintf("--memory-reservation=%s", c.Reservation), fmt.Sprintf("--cpus=%d", c.CPUs)}
	if c.CPUSet != "" {
		args = append(args, "--cpuset-cpus="+c.CPUSet)
	}
	if memKey {
		fmt.Fprintf(&b, "Memory=%s\n", c.Memory)
	} else {
		args = append([]string{fmt.Sprintf("--memory=%s", c.Memory)}, args...)
	}
	fmt.Fprintf(&b, "PodmanArgs=%s\n", strings.Join(args, " "))
	if c.HostNetwork {
		// The empty Network= first clears the unit's own (Quadlet's
		// LookupAll: an empty value clears all before): a second
		// --network beside host is refused by Podman, and the unit
		// would not start.
		b.WriteString("Network=\nNetwork=host\n")
	}
	if c.Memlock {
		b.WriteString("Ulimit=memlock=-1:-1\n")
	}
	for _, d := range c.Devices {
		fmt.Fprintf(&b, "AddDevice=%s\n", d)
	}
	for _, e := range c.Env {
		fmt.Fprintf(&b, "Environment=%s=%s\n", e.Name, e.Value)
	}
	return []byte(b.String())
}

// RunFlags are c's `podman run` flags.
func RunFlags(c Container) []string {
	out := []string{"--memory=" + c.Memory.String(), "--memory-reservation=" + c.Reservation.String(), fmt.Sprintf("--cpus=%d", c.CPUs)}
	if c.CPUSet != "" {
		out = append(out, "--cpuset-cpus="+c.CPUSet)
	}
	if c.HostNetwork {
		out = append(out, "--network=host")
	}
	if c.Memlock {
		out = append(out, "--ulimit=memlock=-1:-1")
	}
	for _, d := range c.Devices {
		out = append(out, "--device="+d)
	}
	for _, e := range c.Env {
		out = append(out, "--env="+e.Name+"="+e.Value)
	}
	return out
}
