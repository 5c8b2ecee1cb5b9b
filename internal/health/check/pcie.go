package check

import (
	"fmt"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// PCIe is the group of the PCIe links of accelerators and NVMe disks.
const PCIe Group = "pcie"

// Gen3Fix is how a Pi 5's external port is raised to Gen 3. No task
// makes the change yet (it wants a trial boot: a link that will not train
// at Gen 3 can leave the disk, and with it the boot, unreachable).
const Gen3Fix = "dtparam=pciex1_gen=3 in config.txt, then reboot and confirm the device is still there (not yet a task; see docs/check.md)"

// pi5Port is the Pi 5's (BCM2712's) PCIe root port: the external x1
// connector's, which the firmware holds to Gen 2 unless
// dtparam=pciex1_gen=3.
var pi5Port = [2]string{"0x14e4", "0x2712"}

// pcie checks each accelerator's and NVMe controller's link: the speed
// and width it trained at against the lesser of what the device and its
// upstream port can. Each link is judged on its own: a device behind a
// switch has the switch's port as its upstream port.
func (c *checker) pcie() {
	f := c.in.Facts
	ports := map[string]platform.BusDevice{}
	for _, d := range f.BusDevices {
		if d.Bus == platform.PCI {
			ports[d.Address] = d
		}
	}
	for _, d := range f.BusDevices {
		if d.Bus != platform.PCI || (!d.Accelerator && d.Class != platform.NVMeClass) {
			continue
		}
		c.add(linkResult(f.Platform, d, ports[portOf(d)]))
	}
}

func portOf(d platform.BusDevice) string {
	if d.Link == nil {
		return ""
	}
	return d.Link.Port
}

// linkResult judges one device's link; port is its upstream port's own
// entry (zero when unknown).
func linkResult(k platform.Kind, d platform.BusDevice, port platform.BusDevice) Result {
	r := Result{Group: PCIe, Name: "link." + d.Address, Status: OK, Evidence: "/sys/bus/pci/devices/" + d.Address}
	l := d.Link
	if l == nil || l.Speed == 0 {
		r.Status, r.Value = Unknown, "link not read"
		r.Detail = d.Name + ": no current_link_speed (a link down, or not PCIe)"
		return r
	}
	r.Value = fmt.Sprintf("%s x%d (Gen %d)", l.Speed, l.Width, l.Speed.Gen())
	sp, w, by := l.Capable()
	if sp == 0 {
		r.Status = Unknown
		r.Detail = d.Name + ": the device's max_link_speed was not read, so what it could do is unknown"
		return r
	}
	portName := "its port " + l.Port
	if l.Port == "" {
		portName = "its port (unread)"
	}
	if l.Port != "" {
		r.Evidence += ", /sys/bus/pci/devices/" + l.Port
	}
	pi5 := k == platform.RPi5 && [2]string{port.Vendor, port.Device} == pi5Port
	switch {
	case l.Slow():
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s: trained below the %s x%d that both the device and %s can, with less bandwidth than it could have", d.Name, sp, w, portName)
		r.Fix = "reseat the card and its cable and reboot; a link that trains low again is a signal problem (a long or damaged cable, a riser)"
		if pi5 && l.PortMaxSpeed == 80 {
			r.Fix += "; at Gen 3 (dtparam=pciex1_gen=3, not certified on a Pi 5) remove the line if it never holds 8.0 GT/s"
		}
	case by == "port" && l.MaxSpeed > l.PortMaxSpeed && pi5 && l.PortMaxSpeed == 50:
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s: at the Pi 5's external port's Gen 2, the firmware's default; the device can do %s", d.Name, l.MaxSpeed)
		r.Fix = Gen3Fix
	case by == "port" && l.MaxSpeed > l.PortMaxSpeed:
		r.Detail = fmt.Sprintf("%s: the most %s can (%s); the device can do %s", d.Name, portName, l.PortMaxSpeed, l.MaxSpeed)
	default:
		r.Detail = fmt.Sprintf("%s: at the most the link can (%s x%d)", d.Name, sp, w)
	}
	return r
}
