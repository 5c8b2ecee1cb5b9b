package check

import (
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// TestPCIeLinks: each accelerator's and NVMe's link against the lesser
// of its and its port's maximum: trained below it warns; held by a Pi
// 5's external port at Gen 2 warns with the config.txt line; held by any
// other port is what the hardware can; a link not read is unknown; other
// devices (a bridge, a NIC, a USB accelerator) have no result.
func TestPCIeLinks(t *testing.T) {
	t.Parallel()
	pi5Root := platform.BusDevice{Bus: platform.PCI, Address: "0000:00:00.0", Vendor: "0x14e4", Device: "0x2712", Class: "0x060400"}
	otherPort := platform.BusDevice{Bus: platform.PCI, Address: "0000:00:00.0", Vendor: "0x8086", Device: "0x43b8", Class: "0x060400"}
	hailo := func(cur, max, portMax platform.Speed, w, maxW int) platform.BusDevice {
		return platform.BusDevice{Bus: platform.PCI, Address: "0000:01:00.0", Vendor: "0x1e60", Device: "0x2864", Name: "Hailo-8 or 8L", Accelerator: true,
			Link: &platform.PCIeLink{Speed: cur, Width: w, MaxSpeed: max, MaxWidth: maxW, PortMaxSpeed: portMax, PortMaxWidth: 1, Port: "0000:00:00.0"}}
	}
	for _, c := range []struct {
		name   string
		kind   platform.Kind
		port   platform.BusDevice
		dev    platform.BusDevice
		status Status
		value  string
		says   []string // in detail or fix
	}{
		{"pi5 gen2 default", platform.RPi5, pi5Root, hailo(50, 80, 50, 1, 4), Warn, "5.0 GT/s x1 (Gen 2)", []string{"Gen 2", "8.0 GT/s", "dtparam=pciex1_gen=3", "not yet a task; see docs"}},
		{"pi5 gen3 trained low", platform.RPi5, pi5Root, hailo(50, 80, 80, 1, 4), Warn, "5.0 GT/s x1 (Gen 2)", []string{"trained below the 8.0 GT/s x1", "reseat", "pciex1_gen=3"}},
		{"pi5 at gen3", platform.RPi5, pi5Root, hailo(80, 80, 80, 1, 4), OK, "8.0 GT/s x1 (Gen 3)", []string{"at the most the link can"}},
		{"pi5 gen1 trained low", platform.RPi5, pi5Root, hailo(25, 80, 50, 1, 4), Warn, "2.5 GT/s x1 (Gen 1)", []string{"trained below the 5.0 GT/s"}},
		{"amd64 port-limited", platform.AMD64, otherPort, hailo(50, 80, 50, 1, 4), OK, "5.0 GT/s x1 (Gen 2)", []string{"the most its port 0000:00:00.0 can (5.0 GT/s)"}},
		{"amd64 trained low", platform.AMD64, otherPort, hailo(25, 80, 80, 1, 4), Warn, "2.5 GT/s x1 (Gen 1)", []string{"trained below"}},
		{"pi4 with the bcm2712 ids", platform.RPi4, pi5Root, hailo(50, 80, 50, 1, 4), OK, "5.0 GT/s x1 (Gen 2)", []string{"the most its port"}},
		{"narrower than both", platform.AMD64, otherPort, func() platform.BusDevice {
			d := hailo(80, 80, 80, 1, 4)
			d.Link.PortMaxWidth = 4
			return d
		}(), Warn, "8.0 GT/s x1 (Gen 3)", []string{"trained below the 8.0 GT/s x4"}},
		{"no port read", platform.AMD64, platform.BusDevice{}, func() platform.BusDevice {
			d := hailo(50, 80, 0, 1, 4)
			d.Link.Port, d.Link.PortMaxWidth = "", 0
			return d
		}(), Warn, "5.0 GT/s x1 (Gen 2)", []string{"its port (unread)"}},
		{"speed unknown", platform.RPi5, pi5Root, hailo(0, 80, 50, 1, 4), Unknown, "link not read", []string{"no current_link_speed"}},
		{"max unknown", platform.RPi5, pi5Root, hailo(50, 0, 0, 1, 4), Unknown, "5.0 GT/s x1 (Gen 2)", []string{"max_link_speed was not read"}},
		{"no link", platform.RPi5, pi5Root, func() platform.BusDevice { d := hailo(0, 0, 0, 0, 0); d.Link = nil; return d }(), Unknown, "link not read", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			devs := []platform.BusDevice{c.dev}
			if c.port.Address != "" {
				devs = append(devs, c.port)
			}
			r := run(&platform.Facts{Platform: c.kind, BusDevices: devs}, &platform.Health{}, nil)
			res := find(t, r, "pcie.link.0000:01:00.0")
			if res.Status != c.status || res.Value != c.value {
				t.Errorf("%s %q, want %s %q (%s)", res.Status, res.Value, c.status, c.value, res.Detail)
			}
			for _, s := range c.says {
				if !strings.Contains(res.Detail+" | "+res.Fix, s) {
					t.Errorf("%q | %q does not say %q", res.Detail, res.Fix, s)
				}
			}
			if (res.Status == Warn) != (res.Fix != "") {
				t.Errorf("status %s with fix %q", res.Status, res.Fix)
			}
			for _, x := range r.Results {
				if x.Group == PCIe && x.Name != "link.0000:01:00.0" {
					t.Errorf("a result for a port: %s", x.ID())
				}
			}
		})
	}
	// Only accelerators and NVMe: a NIC, and a USB accelerator (no PCIe
	// link), have none.
	r := run(&platform.Facts{Platform: platform.RPi5, BusDevices: []platform.BusDevice{
		{Bus: platform.PCI, Address: "0001:01:00.0", Vendor: "0x1de4", Device: "0x0001", Class: "0x020000", Link: &platform.PCIeLink{Speed: 25, MaxSpeed: 50}},
		{Bus: platform.USB, Address: "1-1", Vendor: "18d1", Device: "9302", Name: "Coral USB Accelerator", Accelerator: true},
		{Bus: platform.PCI, Address: "0000:01:00.0", Vendor: "0x144d", Device: "0xa809", Class: platform.NVMeClass, Name: "NVMe", Link: &platform.PCIeLink{Speed: 50, Width: 4, MaxSpeed: 80, MaxWidth: 4}},
	}}, &platform.Health{}, nil)
	var ids []string
	for _, x := range r.Results {
		if x.Group == PCIe {
			ids = append(ids, x.ID()+" "+x.Status.String())
		}
	}
	if strings.Join(ids, ",") != "pcie.link.0000:01:00.0 warn" {
		t.Errorf("pcie results %q", ids)
	}
}
