package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"golang.org/x/sys/unix"
)

// TestPCIeAttrParsing: the link attributes as every kernel prints them,
// and everything else refused.
func TestPCIeAttrParsing(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Speed{
		"2.5 GT/s PCIe\n": 25, "5.0 GT/s PCIe\n": 50, "8.0 GT/s PCIe\n": 80, "16.0 GT/s PCIe\n": 160, "32.0 GT/s PCIe\n": 320, "64.0 GT/s PCIe\n": 640,
		"5.0 GT/s\n": 50, "8.0 GT/s": 80, // before Linux 4.20: no " PCIe"
		"Unknown\n": 0, "Unknown speed\n": 0, // a link down
	} {
		if got, err := parseSpeed([]byte(in)); err != nil || got != want {
			t.Errorf("parseSpeed(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "5 GT/s\n", "5.0GT/s\n", "5.0 GT/s PCIe PCIe\n", "4.0 GT/s PCIe\n", "-5.0 GT/s\n", "999.9 GT/s\n",
		"5.0 GT/s PCIe\n\n", " 5.0 GT/s\n", "5.0 gt/s\n", "\x00\xff", strings.Repeat("9", 200)} {
		if got, err := parseSpeed([]byte(in)); err == nil {
			t.Errorf("parseSpeed(%q) = %v, want an error", in, got)
		}
	}
	for in, want := range map[string]int{"1\n": 1, "2\n": 2, "4\n": 4, "16\n": 16, "32": 32, "0\n": 0} {
		if got, err := parseWidth([]byte(in)); err != nil || got != want {
			t.Errorf("parseWidth(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "3\n", "-1\n", "x1\n", "64\n", "1 \n", "99999999999999999999\n", "0x1\n"} {
		if got, err := parseWidth([]byte(in)); err == nil {
			t.Errorf("parseWidth(%q) = %v, want an error", in, got)
		}
	}
	for _, c := range []struct {
		in     string
		bits   int
		with0x bool
		want   uint32
		ok     bool
	}{
		{"0x1e60\n", 16, true, 0x1e60, true}, {"0x0b4000\n", 24, true, 0x0b4000, true}, {"1a6e\n", 16, false, 0x1a6e, true},
		{"0x1E60\n", 16, true, 0x1e60, true},
		{"1e60\n", 16, true, 0, false}, {"0x1a6e\n", 16, false, 0, false}, {"0x1e6\n", 16, true, 0, false}, {"0x1e600\n", 16, true, 0, false},
		{"0xzzzz\n", 16, true, 0, false}, {"0x-1e6\n", 16, true, 0, false}, {"", 16, true, 0, false}, {"0x+e60", 16, true, 0, false},
	} {
		got, err := parseHex([]byte(c.in), c.bits, c.with0x)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseHex(%q, %d, %v) = %#x, %v", c.in, c.bits, c.with0x, got, err)
		}
	}
}

// The Pi 5 fixture's PCI functions: the Hailo-8 behind a switch port.
const (
	hailoDir = "sys/devices/platform/axi/1000110000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/0000:02:01.0/0000:04:00.0"
	portDir  = "sys/devices/platform/axi/1000110000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/0000:02:01.0"
)

func busDevice(f *Facts, addr string) (BusDevice, bool) {
	i := slices.IndexFunc(f.BusDevices, func(d BusDevice) bool { return d.Address == addr })
	if i < 0 {
		return BusDevice{}, false
	}
	return f.BusDevices[i], true
}

// TestBusDevicesPi5: the fixture's Hailo-8 and NVMe read whole: IDs,
// class, driver, the node its driver names, the link and its port's
// maximum. Its node joins Accelerators only where the root has the
// character device (a fixture in git cannot hold one: mknod in a copy).
func TestBusDevicesPi5(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	f := &Facts{}
	f.detectDevices(openRoot(t, root))
	f.detectBusDevices(openRoot(t, root))
	hailo, ok := busDevice(f, "0000:04:00.0")
	want := BusDevice{Bus: PCI, Address: "0000:04:00.0", Vendor: "0x1e60", Device: "0x2864", Class: "0x0b4000", Driver: "hailo",
		Name: "Hailo-8 or 8L", Accelerator: true, Node: "/dev/hailo0",
		Link: &PCIeLink{Speed: 50, Width: 1, MaxSpeed: 80, MaxWidth: 4, PortMaxSpeed: 80, PortMaxWidth: 1, Port: "0000:02:01.0"}}
	if !ok || !reflect.DeepEqual(hailo, want) {
		t.Errorf("hailo:\n%+v %+v\nwant\n%+v %+v", hailo, hailo.Link, want, want.Link)
	}
	if sp, w, by := hailo.Link.Capable(); sp != 80 || w != 1 || by != "device" || !hailo.Link.Slow() {
		t.Errorf("capable %v x%d by %s, slow %v", sp, w, by, hailo.Link.Slow())
	}
	nvme, _ := busDevice(f, "0000:03:00.0")
	if nvme.Name != "NVMe" || nvme.Accelerator || nvme.Node != "" || nvme.Link == nil || nvme.Link.Slow() {
		t.Errorf("nvme: %+v %+v", nvme, nvme.Link)
	}
	if rp, _ := busDevice(f, "0000:00:00.0"); rp.Link == nil || rp.Link.Port != "" || rp.Name != "" {
		t.Errorf("root port: %+v %+v (its parent pci0000:00 is no port)", rp, rp.Link)
	}
	if len(f.BusDevices) != 6 || f.Accelerators != nil {
		t.Errorf("%d devices, accelerators %q", len(f.BusDevices), f.Accelerators)
	}
	if !slices.ContainsFunc(f.Evidence, func(e string) bool {
		return strings.Contains(e, "/dev/hailo0, which this root has no character device at")
	}) {
		t.Errorf("no evidence of the missing node: %q", f.Evidence)
	}

	if err := unix.Mknod(filepath.Join(root, "dev/hailo0"), unix.S_IFCHR|0o600, int(unix.Mkdev(510, 0))); err != nil {
		if os.MkdirAll(filepath.Join(root, "dev"), 0o755) != nil || unix.Mknod(filepath.Join(root, "dev/hailo0"), unix.S_IFCHR|0o600, int(unix.Mkdev(510, 0))) != nil {
			t.Skipf("mknod: %v", err)
		}
	}
	g := &Facts{}
	g.detectDevices(openRoot(t, root))
	g.detectBusDevices(openRoot(t, root))
	if !slices.Equal(g.Accelerators, []string{"/dev/hailo0"}) {
		t.Errorf("with the node: accelerators %q", g.Accelerators)
	}
}

// TestBusDevicesDetection: the devices named by their IDs, on either
// bus, and those that are not; the node from each driver's uevent.
func TestBusDevicesDetection(t *testing.T) {
	t.Parallel()
	pci := func(addr, vendor, device, class, classDir, devname string) map[string]fixture.Entry {
		d := "sys/devices/pci0000:00/0000:00:01.0/" + addr
		m := map[string]fixture.Entry{
			"sys/bus/pci/devices/" + addr: fixture.Link("../../../devices/pci0000:00/0000:00:01.0/" + addr),
			d + "/vendor":                 fixture.File(vendor + "\n"), d + "/device": fixture.File(device + "\n"), d + "/class": fixture.File(class + "\n"),
			d + "/current_link_speed": fixture.File("8.0 GT/s PCIe\n"), d + "/max_link_speed": fixture.File("8.0 GT/s PCIe\n"),
		}
		if classDir != "" {
			m[d+"/"+classDir+"/uevent"] = fixture.File("MAJOR=1\nMINOR=2\nDEVNAME=" + devname + "\n")
		}
		return m
	}
	usb := func(addr, vendor, product string) map[string]fixture.Entry {
		d := "sys/devices/platform/xhci/usb1/" + addr
		return map[string]fixture.Entry{
			"sys/bus/usb/devices/" + addr: fixture.Link("../../../devices/platform/xhci/usb1/" + addr),
			d + "/idVendor":               fixture.File(vendor + "\n"), d + "/idProduct": fixture.File(product + "\n"),
			d + "/uevent": fixture.File("MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\n"),
		}
	}
	for _, c := range []struct {
		name  string
		files map[string]fixture.Entry
		want  string // name, accelerator, node
	}{
		{"hailo", pci("0000:01:00.0", "0x1e60", "0x2864", "0x0b4000", "hailo_chardev/hailo0", "hailo0"), "Hailo-8 or 8L true /dev/hailo0"},
		{"coral pcie", pci("0000:01:00.0", "0x1ac1", "0x089a", "0x0880ff", "apex/apex_0", "apex_0"), "Coral Edge TPU (PCIe) true /dev/apex_0"},
		{"accel class", pci("0000:01:00.0", "0x8086", "0x7d1d", "0x120000", "accel/accel0", "accel/accel0"), "processing accelerator true /dev/accel/accel0"},
		{"nvme", pci("0000:01:00.0", "0x144d", "0xa809", "0x010802", "nvme/nvme0", "nvme0"), "NVMe false "},
		{"other", pci("0000:01:00.0", "0x8086", "0x1533", "0x020000", "", ""), " false "},
		{"hailo, DEVNAME out", pci("0000:01:00.0", "0x1e60", "0x2864", "0x0b4000", "hailo_chardev/hailo0", "../etc/passwd"), "Hailo-8 or 8L true "},
		{"hailo, DEVNAME absolute", pci("0000:01:00.0", "0x1e60", "0x2864", "0x0b4000", "hailo_chardev/hailo0", "/etc/passwd"), "Hailo-8 or 8L true "},
		{"hailo, DEVNAME odd", pci("0000:01:00.0", "0x1e60", "0x2864", "0x0b4000", "hailo_chardev/hailo0", "hai lo\x1b[2J"), "Hailo-8 or 8L true "},
		{"hailo, DEVNAME dot", pci("0000:01:00.0", "0x1e60", "0x2864", "0x0b4000", "hailo_chardev/hailo0", "a/./b"), "Hailo-8 or 8L true "},
		{"bad address", pci("0000:01:00.0x", "0x1e60", "0x2864", "0x0b4000", "", ""), ""},
		{"coral usb unprogrammed", usb("1-1", "1a6e", "089a"), "Coral USB Accelerator (firmware not loaded) true /dev/bus/usb/001/002"},
		{"coral usb", usb("2-1.3", "18d1", "9302"), "Coral USB Accelerator true /dev/bus/usb/001/002"},
		{"usb other", usb("1-1", "046d", "c52b"), ""},
		{"usb interface", usb("1-1:1.0", "18d1", "9302"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			fixture.PutAll(t, root, c.files)
			f := &Facts{}
			f.detectBusDevices(openRoot(t, root))
			got := ""
			if len(f.BusDevices) > 1 {
				t.Fatalf("%d devices", len(f.BusDevices))
			}
			if len(f.BusDevices) == 1 {
				d := f.BusDevices[0]
				got = fmt.Sprintf("%s %v %s", d.Name, d.Accelerator, d.Node)
			}
			if got != c.want {
				t.Errorf("got %q, want %q (evidence %q)", got, c.want, f.Evidence)
			}
		})
	}
}

// TestBusDevicesHostile: every file the PCI walk reads, each as every
// kind of entry and malformed: never a panic; a device whose IDs cannot
// be read is left out, naming it; a link attribute that cannot be read
// (missing, unreadable, malformed) is unknown (0), an evidence line
// naming the file; the other devices are read as before.
func TestBusDevicesHostile(t *testing.T) {
	t.Parallel()
	kinds := map[string]fixture.Entry{
		"missing":       {},
		"a directory":   fixture.Dir(),
		"a FIFO":        fixture.FIFO(),
		"a link out":    fixture.Link("../../../../../../../../../../../etc/os-release"),
		"dangling link": fixture.Link("/nothing/here"),
		"too large":     fixture.File(strings.Repeat("1", sysfsAttrLimit+1)),
		"binary":        fixture.File("\x00\xff\x1b[2J\n"),
		"empty":         fixture.File(""),
		"huge number":   fixture.File("99999999999999999999999\n"),
	}
	files := []struct {
		path string
		ids  bool // the device is left out without it
	}{
		{hailoDir + "/vendor", true}, {hailoDir + "/device", true}, {hailoDir + "/class", false},
		{hailoDir + "/current_link_speed", false}, {hailoDir + "/current_link_width", false},
		{hailoDir + "/max_link_speed", false}, {hailoDir + "/max_link_width", false},
		{hailoDir + "/driver", false}, {hailoDir + "/hailo_chardev/hailo0/uevent", false}, {hailoDir + "/hailo_chardev", false},
		{portDir + "/max_link_speed", false}, {portDir + "/max_link_width", false},
		{"sys/bus/pci/devices/0000:04:00.0", true},
	}
	for _, fl := range files {
		for name, e := range kinds {
			t.Run(filepath.Base(fl.path)+" "+name, func(t *testing.T) {
				t.Parallel()
				root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
				full := filepath.Join(root, fl.path)
				if err := os.RemoveAll(full); err != nil {
					t.Fatal(err)
				}
				if name != "missing" {
					e.Put(t, root, fl.path)
				}
				f := &Facts{}
				f.detectBusDevices(openRoot(t, root))
				if nvme, ok := busDevice(f, "0000:03:00.0"); !ok || nvme.Link == nil || nvme.Link.Speed != 80 {
					t.Errorf("the NVMe beside it: %+v", nvme)
				}
				hailo, ok := busDevice(f, "0000:04:00.0")
				if fl.ids {
					if ok {
						t.Errorf("kept a device with unreadable IDs: %+v", hailo)
					}
					return
				}
				if !ok || hailo.Vendor != "0x1e60" || hailo.Name != "Hailo-8 or 8L" {
					t.Fatalf("hailo: %+v", hailo)
				}
				base := filepath.Base(fl.path)
				if hailo.Link == nil {
					t.Fatalf("no link")
				}
				l := *hailo.Link
				field := map[string]int{"current_link_speed": int(l.Speed), "current_link_width": l.Width, "max_link_speed": int(l.MaxSpeed), "max_link_width": l.MaxWidth}
				if filepath.Dir(fl.path) == portDir {
					field = map[string]int{"max_link_speed": int(l.PortMaxSpeed), "max_link_width": l.PortMaxWidth}
				}
				if v, ok := field[base]; ok && v != 0 {
					t.Errorf("%s as %s: read %d", base, name, v)
				}
				if _, ok := field[base]; ok {
					if !slices.ContainsFunc(f.Evidence, func(ev string) bool { return strings.Contains(ev, "/"+base) }) {
						t.Errorf("%s as %s: no evidence naming it: %q", base, name, f.Evidence)
					}
				}
				if base == "class" {
					if hailo.Class != "" {
						t.Errorf("class %q from a %s", hailo.Class, name)
					}
					if !slices.ContainsFunc(f.Evidence, func(ev string) bool { return strings.Contains(ev, "0000:04:00.0") && strings.Contains(ev, "class") }) {
						t.Errorf("class as %s: no evidence: %q", name, f.Evidence)
					}
				}
				if (base == "uevent" || base == "hailo_chardev") && hailo.Node != "" {
					t.Errorf("node %q from a %s %s", hailo.Node, base, name)
				}
				if base == "driver" && hailo.Driver != "" && name != "a link out" && name != "dangling link" {
					t.Errorf("driver %q from a %s", hailo.Driver, name)
				}
				for _, ev := range f.Evidence {
					if strings.ContainsAny(ev, "\x00\x1b") {
						// Evidence is escaped when shown, but the
						// parser quotes what it refuses.
						t.Errorf("raw bytes in evidence %q", ev)
					}
				}
			})
		}
	}
}

// TestBusDevicesBounded: a bus of more devices than read says so.
func TestBusDevicesBounded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]fixture.Entry{}
	for i := range maxBusDevices + 5 {
		d := fmt.Sprintf("sys/bus/pci/devices/0000:%02x:%02x.0", i/32, i%32)
		files[d+"/vendor"], files[d+"/device"] = fixture.File("0x8086\n"), fixture.File("0x1533\n")
	}
	fixture.PutAll(t, root, files)
	f := &Facts{}
	f.detectBusDevices(openRoot(t, root))
	if len(f.BusDevices) != maxBusDevices || !slices.ContainsFunc(f.Evidence, func(e string) bool { return strings.Contains(e, "more than 256 devices") }) {
		t.Errorf("%d devices, evidence %q", len(f.BusDevices), f.Evidence)
	}
}
