package platform

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// maxBusDevices bounds the PCI and the USB devices read each (a large
// server has a few hundred PCI functions); more are left out, saying so.
const maxBusDevices = 256

// maxDeviceEntries bounds the entries of a device's directory, and of
// each class directory in it, looked through for its node: a PCI
// function's has a few dozen.
const maxDeviceEntries = 256

// sysfsAttrLimit bounds one sysfs attribute read: the kernel prints each
// in a line; anything longer is not what the kernel wrote.
const sysfsAttrLimit = 256

// Speed is a PCIe link's transfer rate in tenths of GT/s (50: 5.0 GT/s,
// Gen 2); 0 unknown.
type Speed uint16

func (s Speed) String() string {
	if s == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d GT/s", s/10, s%10)
}

// MarshalText writes the speed as the kernel does, without its suffix.
func (s Speed) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Gen is the PCIe generation a speed is (0 unknown).
func (s Speed) Gen() int {
	return map[Speed]int{25: 1, 50: 2, 80: 3, 160: 4, 320: 5, 640: 6}[s]
}

// speedLine is the kernel's current_link_speed/max_link_speed: "8.0 GT/s
// PCIe" since Linux 4.20's pci_speed_string, "8.0 GT/s" before it.
var speedLine = regexp.MustCompile(`^([0-9]{1,2})\.([0-9]) GT/s( PCIe)?$`)

// parseSpeed reads a link speed; the kernel's "Unknown" (a link down, or
// a speed it has no name for) is 0 without an error.
func parseSpeed(b []byte) (Speed, error) {
	s := string(bytes.TrimSuffix(b, []byte("\n")))
	if strings.HasPrefix(s, "Unknown") {
		return 0, nil
	}
	m := speedLine.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q: want N.N GT/s", s)
	}
	whole, _ := strconv.Atoi(m[1])
	tenth, _ := strconv.Atoi(m[2])
	sp := Speed(whole*10 + tenth)
	if sp.Gen() == 0 {
		// 2.5 · 2^n: anything else is not a PCIe rate.
		return 0, fmt.Errorf("%q: not a PCIe transfer rate", s)
	}
	return sp, nil
}

// parseWidth reads current_link_width/max_link_width: lanes, x1 to x32.
func parseWidth(b []byte) (int, error) {
	s := string(bytes.TrimSuffix(b, []byte("\n")))
	n, err := strconv.Atoi(s)
	if err != nil || !slices.Contains([]int{1, 2, 4, 8, 12, 16, 32}, n) {
		if s == "0" {
			return 0, nil // a link down
		}
		return 0, fmt.Errorf("%q: want a lane count (1, 2, 4, 8, 12, 16, 32)", s)
	}
	return n, nil
}

// parseHex reads a sysfs ID attribute ("0x1e60\n") of at most bits bits.
// The USB ones (idVendor) have no 0x: with0x says which.
func parseHex(b []byte, bits int, with0x bool) (uint32, error) {
	s := string(bytes.TrimSuffix(b, []byte("\n")))
	digits, ok := strings.CutPrefix(s, "0x")
	if ok != with0x || len(digits) != bits/4 {
		return 0, fmt.Errorf("%q: want %d hex digits", s, bits/4)
	}
	n, err := strconv.ParseUint(digits, 16, bits)
	if err != nil {
		return 0, fmt.Errorf("%q: want %d hex digits", s, bits/4)
	}
	return uint32(n), nil
}

// PCIeLink is a PCIe device's link: the speed and width it trained at, the
// most the device can do, and the most its upstream port can (0 where
// unreadable).
type PCIeLink struct {
	Speed        Speed `json:"current_link_speed"`
	Width        int   `json:"current_link_width"`
	MaxSpeed     Speed `json:"max_link_speed"`
	MaxWidth     int   `json:"max_link_width"`
	PortMaxSpeed Speed `json:"port_max_link_speed,omitempty"`
	PortMaxWidth int   `json:"port_max_link_width,omitempty"`
	// Port is the upstream port (the bridge the device hangs off) whose
	// maximum was read; "" when it has no link of its own to read.
	Port string `json:"port,omitempty"`
}

// Capable is the fastest and widest the link can train at: the lesser of
// the device's maximum and its port's, and which of the two limits it.
func (l PCIeLink) Capable() (Speed, int, string) {
	sp, w, by := l.MaxSpeed, l.MaxWidth, "device"
	if l.PortMaxSpeed != 0 && (sp == 0 || l.PortMaxSpeed < sp) {
		sp, by = l.PortMaxSpeed, "port"
	}
	if l.PortMaxWidth != 0 && (w == 0 || l.PortMaxWidth < w) {
		w = l.PortMaxWidth
	}
	return sp, w, by
}

// Slow says whether the link runs below what it can: the speed or the
// width under Capable, all of them known.
func (l PCIeLink) Slow() bool {
	sp, w, _ := l.Capable()
	return (l.Speed != 0 && sp != 0 && l.Speed < sp) || (l.Width != 0 && w != 0 && l.Width < w)
}

// Bus is where a device was found.
type Bus string

const (
	PCI Bus = "pci"
	USB Bus = "usb"
)

// BusDevice is one PCI function or USB device.
type BusDevice struct {
	Bus Bus `json:"bus"`
	// Address is its sysfs name (0001:01:00.0, 1-1.2).
	Address string `json:"address"`
	Vendor  string `json:"vendor"`
	Device  string `json:"device"`
	// Class is the PCI class code (0x010802: NVMe), "" on USB.
	Class  string `json:"class,omitempty"`
	Driver string `json:"driver,omitempty"`
	// Name is what the device is when known ("Hailo-8 or 8L", "NVMe").
	Name string `json:"name,omitempty"`
	// Accelerator: an AI accelerator (a known one, or PCI class 0x12,
	// processing accelerators).
	Accelerator bool `json:"accelerator,omitempty"`
	// Node is the device node its driver made, from the kernel's DEVNAME
	// (the name udev and devtmpfs give the node), "" where none.
	Node string    `json:"node,omitempty"`
	Link *PCIeLink `json:"link,omitempty"`
}

// NVMeClass is the PCI class code of an NVMe controller.
const NVMeClass = "0x010802"

// known are the AI accelerators named by their IDs. The Hailo-8 and
// 8L report the same ID; only their firmware tells them apart.
var known = map[[3]string]string{
	{"pci", "0x1e60", "0x2864"}: "Hailo-8 or 8L",
	{"pci", "0x1ac1", "0x089a"}: "Coral Edge TPU (PCIe)",
	{"usb", "1a6e", "089a"}:     "Coral USB Accelerator (firmware not loaded)",
	{"usb", "18d1", "9302"}:     "Coral USB Accelerator",
}

// pciAddress is a PCI function's sysfs name: domain:bus:device.function.
var pciAddress = regexp.MustCompile(`^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// usbAddress is a USB device's sysfs name (1-1.2; usb1 is a root hub);
// interfaces (1-1.2:1.0) have no IDs of their own.
var usbAddress = regexp.MustCompile(`^[0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,3}){0,6}$`)

// devName is a DEVNAME a device node may have: a clean relative path of
// the characters the kernel's names use.
var devName = regexp.MustCompile(`^[A-Za-z0-9_.+@-]+(/[A-Za-z0-9_.+@-]+){0,3}$`)

// detectBusDevices reads the PCI functions and the USB devices from
// sysfs, names the accelerators and NVMe controllers among them, and adds
// the device nodes accelerators' drivers made to Accelerators. Every file
// is the root's: a missing, malformed or oversized one is an evidence
// line and the field unknown. Needs detectDevices' CharDevices.
func (f *Facts) detectBusDevices(h *hostroot.Root) {
	f.detectPCI(h)
	f.detectUSB(h)
	for _, d := range f.BusDevices {
		if !d.Accelerator || d.Node == "" || slices.Contains(f.Accelerators, d.Node) {
			continue
		}
		if !f.IsCharDevice(d.Node) {
			f.Evidence = append(f.Evidence, fmt.Sprintf("accelerator %s: its driver names %s, which this root has no character device at", d.Address, d.Node))
			continue
		}
		f.Accelerators = append(f.Accelerators, d.Node)
		slices.Sort(f.Accelerators)
	}
}

// listBus lists a bus's device directory, bounded.
func (f *Facts) listBus(h *hostroot.Root, dir string, valid *regexp.Regexp) []string {
	ents, err := h.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if !valid.MatchString(e.Name()) {
			continue
		}
		if len(names) == maxBusDevices {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s: more than %d devices, the rest not read", dir, maxBusDevices))
			break
		}
		names = append(names, e.Name())
	}
	return names
}

// attr reads one sysfs attribute; a missing one is ok=false quietly, an
// unreadable one (a directory, too large, a FIFO) an evidence line.
func (f *Facts) attr(h *hostroot.Root, p string) ([]byte, bool) {
	b, err := h.ReadFileLimit(p, sysfsAttrLimit)
	if err != nil {
		if h.Exists(p) {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s: unreadable: %v", p, err))
		}
		return nil, false
	}
	return b, true
}

func (f *Facts) detectPCI(h *hostroot.Root) {
	const dir = "/sys/bus/pci/devices"
	for _, name := range f.listBus(h, dir, pciAddress) {
		p := path.Join(dir, name)
		d := BusDevice{Bus: PCI, Address: name}
		vendor, ok1 := f.attr(h, p+"/vendor")
		device, ok2 := f.attr(h, p+"/device")
		if !ok1 || !ok2 {
			continue // not a PCI function's directory
		}
		v, err1 := parseHex(vendor, 16, true)
		dv, err2 := parseHex(device, 16, true)
		if err := cmpErr(err1, err2); err != nil {
			f.Evidence = append(f.Evidence, fmt.Sprintf("pci %s: vendor/device %v, left out", name, err))
			continue
		}
		d.Vendor, d.Device = fmt.Sprintf("0x%04x", v), fmt.Sprintf("0x%04x", dv)
		if b, ok := f.attr(h, p+"/class"); ok {
			if c, err := parseHex(b, 24, true); err != nil {
				f.Evidence = append(f.Evidence, fmt.Sprintf("pci %s: class %v", name, err))
			} else {
				d.Class = fmt.Sprintf("0x%06x", c)
			}
		} else if !h.Exists(p + "/class") {
			f.Evidence = append(f.Evidence, p+"/class: missing, taken as unknown")
		}
		if t, err := h.Readlink(p + "/driver"); err == nil && devName.MatchString(path.Base(t)) {
			d.Driver = path.Base(t)
		}
		d.Name = known[[3]string{"pci", d.Vendor, d.Device}]
		d.Accelerator = d.Name != "" || strings.HasPrefix(d.Class, "0x12")
		switch {
		case d.Class == NVMeClass:
			d.Name = "NVMe"
		case d.Accelerator && d.Name == "":
			d.Name = "processing accelerator"
		}
		if d.Accelerator {
			d.Node = f.driverNode(h, p)
		}
		d.Link = f.readLink(h, p)
		f.BusDevices = append(f.BusDevices, d)
		if d.Name != "" {
			f.Evidence = append(f.Evidence, d.Summary())
		}
	}
}

// Summary is the device in a line, for facts and its evidence: what it
// is, its IDs, driver, link and node.
func (d BusDevice) Summary() string {
	ids := d.Vendor + ":" + d.Device
	if d.Bus == PCI {
		ids += " class " + orUnknown(d.Class)
	}
	return fmt.Sprintf("%s %s: %s (%s, driver %s)%s%s", d.Bus, d.Address, orUnknown(d.Name), ids, orNone(d.Driver), linkEvidence(d.Link), nodeEvidence(d.Node))
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func nodeEvidence(n string) string {
	if n == "" {
		return ""
	}
	return ", node " + n
}

func linkEvidence(l *PCIeLink) string {
	if l == nil {
		return ""
	}
	s := fmt.Sprintf(", link %s x%d of max %s x%d", l.Speed, l.Width, l.MaxSpeed, l.MaxWidth)
	if l.Port != "" {
		s += fmt.Sprintf(" (port %s max %s x%d)", l.Port, l.PortMaxSpeed, l.PortMaxWidth)
	}
	return s
}

// readLink reads a PCIe function's link and its upstream port's maximum:
// the port is the directory the device's own sits in under /sys/devices
// (the bridge), when that is a PCI function with a link. nil: the device
// has no link attributes (conventional PCI, a root complex's own).
func (f *Facts) readLink(h *hostroot.Root, p string) *PCIeLink {
	var l PCIeLink
	seen := false
	var missing []string
	read := func(dir, file string, into any) {
		b, ok := f.attr(h, dir+"/"+file)
		if !ok {
			if !h.Exists(dir + "/" + file) {
				missing = append(missing, dir+"/"+file)
			}
			return
		}
		seen = true
		var err error
		switch x := into.(type) {
		case *Speed:
			*x, err = parseSpeed(b)
		case *int:
			*x, err = parseWidth(b)
		}
		if err != nil {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s/%s: %v, taken as unknown", dir, file, err))
		}
	}
	read(p, "current_link_speed", &l.Speed)
	read(p, "current_link_width", &l.Width)
	read(p, "max_link_speed", &l.MaxSpeed)
	read(p, "max_link_width", &l.MaxWidth)
	if !seen {
		return nil // no link attributes at all: not a PCIe function
	}
	// Some but not all: each one missing is unknown, saying so.
	noted := func() {
		for _, m := range missing {
			f.Evidence = append(f.Evidence, m+": missing, taken as unknown")
		}
		missing = nil
	}
	noted()
	if dir, err := h.Resolve(p); err == nil {
		up := "/" + path.Dir(dir)
		if port := path.Base(up); pciAddress.MatchString(port) && strings.HasPrefix(up, "/sys/devices/") {
			var ps Speed
			var pw int
			seen = false
			read(up, "max_link_speed", &ps)
			read(up, "max_link_width", &pw)
			if seen {
				l.Port, l.PortMaxSpeed, l.PortMaxWidth = port, ps, pw
				noted()
			}
		}
	}
	return &l
}

// driverNode finds the device node a driver made for the device at p:
// a class directory of it (hailo_chardev/hailo0, apex/apex_0,
// accel/accel0) whose uevent names the node (DEVNAME), as udev reads it.
func (f *Facts) driverNode(h *hostroot.Root, p string) string {
	classes, err := h.ReadDir(p)
	if err != nil || len(classes) > maxDeviceEntries {
		return ""
	}
	for _, c := range classes {
		if !c.IsDir() || !devName.MatchString(c.Name()) {
			continue
		}
		nodes, err := h.ReadDir(p + "/" + c.Name())
		if err != nil || len(nodes) > maxDeviceEntries {
			continue
		}
		for _, n := range nodes {
			if n := f.uevent(h, p+"/"+c.Name()+"/"+n.Name()); n != "" {
				return n
			}
		}
	}
	return ""
}

// uevent reads the DEVNAME of the device directory dir: "/dev/NAME", or
// "" where it names none or one that is not a clean name under /dev.
func (f *Facts) uevent(h *hostroot.Root, dir string) string {
	if !h.Exists(dir + "/uevent") {
		return ""
	}
	b, ok := f.attr(h, dir+"/uevent")
	if !ok {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "DEVNAME="); ok {
			if !devName.MatchString(v) || slices.Contains(strings.Split(v, "/"), "..") || slices.Contains(strings.Split(v, "/"), ".") {
				f.Evidence = append(f.Evidence, fmt.Sprintf("%s/uevent: DEVNAME %q is not a clean name under /dev, ignored", dir, v))
				return ""
			}
			return "/dev/" + v
		}
	}
	return ""
}

func (f *Facts) detectUSB(h *hostroot.Root) {
	const dir = "/sys/bus/usb/devices"
	for _, name := range f.listBus(h, dir, usbAddress) {
		p := path.Join(dir, name)
		vendor, ok1 := f.attr(h, p+"/idVendor")
		product, ok2 := f.attr(h, p+"/idProduct")
		if !ok1 || !ok2 {
			continue
		}
		v, err1 := parseHex(vendor, 16, false)
		pr, err2 := parseHex(product, 16, false)
		if err := cmpErr(err1, err2); err != nil {
			f.Evidence = append(f.Evidence, fmt.Sprintf("usb %s: idVendor/idProduct %v, left out", name, err))
			continue
		}
		d := BusDevice{Bus: USB, Address: name, Vendor: fmt.Sprintf("%04x", v), Device: fmt.Sprintf("%04x", pr)}
		d.Name = known[[3]string{"usb", d.Vendor, d.Device}]
		if d.Name == "" {
			continue // only the accelerators among USB devices matter here
		}
		d.Accelerator = true
		d.Node = f.uevent(h, p)
		if t, err := h.Readlink(p + "/driver"); err == nil && devName.MatchString(path.Base(t)) {
			d.Driver = path.Base(t)
		}
		f.BusDevices = append(f.BusDevices, d)
		f.Evidence = append(f.Evidence, d.Summary())
	}
}
