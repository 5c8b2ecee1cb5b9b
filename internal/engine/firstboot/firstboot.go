// Package firstboot makes an image provision itself on its first boot:
// install puts ezedge-host (unless the image has the Debian package's),
// the profile when one is given and a oneshot unit into an offline root (as
// an apply, so it is snapshotted and can be rolled back); run is what that
// unit executes, with the image's own profile; status reads what it did.
package firstboot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/sandbox"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Paths inside the image. Binary is where install copies itself when the
// image has no packaged ezedge-host (platform.PackagedBinary).
const (
	Binary   = platform.LocalBinary
	Profile  = platform.ProfileFile
	UnitName = "ezedge-host-firstboot.service"
	unitFile = "/etc/systemd/system/" + UnitName
	// presetFile enables the unit for `systemctl preset-all` (an image's
	// first boot runs it; so do some image builders, in full mode): it
	// comes before the package's 50-ezedge-host.preset, which disables it.
	presetFile = "/etc/systemd/system-preset/40-ezedge-host-firstboot.preset"
)

var (
	// Done marks that the first-boot apply ran (whatever its outcome).
	Done = statedir.Path("firstboot.done")
	// Result is the machine-readable outcome.
	Result = statedir.Path("firstboot.json")
)

// maxBinary bounds the binary install copies (ezedge-host is ~8 MB).
const maxBinary = 256 << 20

// BinaryFile is what the binary install copies is as a file the operator
// names (--binary, or this binary): a regular file of at most maxBinary.
var BinaryFile = hostroot.Named{What: "binary to copy", Limit: maxBinary}

func init() {
	resource.Own(Binary, maxBinary)
	resource.Own(Profile, hostroot.MaxRead)
	resource.Own(unitFile, hostroot.MaxRead)
	resource.Own(presetFile, hostroot.MaxRead)
}

// UnitText is the first-boot unit running binary; header is the comment
// it starts with; firstBootCondition adds ConditionFirstBoot=yes (an image
// whose machine-id is "uninitialized"). The Debian package ships it
// without (disabled: whoever enables it chooses when it runs). It runs the
// apply once in the first boot, ordered explicitly:
//   - after what it tunes exists and what it writes would otherwise undo
//     it: udev's coldplug triggered (disks and their queue attributes),
//     local file systems, systemd-sysctl and systemd-tmpfiles (it applies
//     its own sysctl.d and tmpfiles.d lines live), D-Bus (unit changes);
//     never systemd-udev-settle.service, which systemd deprecates and
//     which holds the boot for every device;
//   - after cloud-init's config stage (Raspberry Pi OS images ship
//     cloud-init from Trixie on): users, network and written files (a
//     profile among them) are in place; an ordering on a unit that is not
//     installed is void;
//   - after network-online.target, which it pulls in (Wants=: an
//     After= alone orders on nothing where no other unit wants it): the
//     WiFi guard then sees the routes and sessions the device is reached
//     by. Where a wait-online service is enabled (systemd-networkd's,
//     NetworkManager's) the first boot waits for it, at most its own
//     timeout, once; where none is, the target is reached at once and
//     the guard, seeing no wired carrier, leaves WiFi alone;
//   - before the units that run containers (podman-restart.service
//     restarts them at boot; podman.service is the API), so they start
//     with the tuning and the resource drop-ins in place.
//
// It changes the host, so its sandbox is sandbox.HostChanging.
func UnitText(header, binary string, firstBootCondition bool) string {
	cond := "ConditionPathExists=!" + Done
	if firstBootCondition {
		cond = "ConditionFirstBoot=yes\n" + cond
	}
	return header + `[Unit]
Description=ezedge-host first-boot provisioning
` + platform.ManDocumentation(binary, "ezedge-host-firstboot") + cond + `
After=local-fs.target systemd-udev-trigger.service systemd-sysctl.service systemd-tmpfiles-setup.service dbus.service
After=cloud-config.service network-online.target
Wants=network-online.target
Before=podman-restart.service podman.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=` + binary + ` firstboot run
StandardOutput=journal+console
` + sandbox.HostChanging + `
[Install]
WantedBy=multi-user.target
`
}

const installHeader = "# Written by ezedge-host firstboot install.\n"

// CheckArch refuses a binary (name, starting with data) that cannot run
// in the root whose facts are f: an amd64 ezedge-host copied into an arm64
// image would fail its first boot, after the build said it was fine.
func CheckArch(name string, data []byte, f *platform.Facts) error {
	want := f.Userland
	if want == "" {
		want = f.Arch
	}
	m, ok := platform.ELFMachine(data)
	if !ok {
		return fmt.Errorf("%s: not an ELF binary", name)
	}
	got := platform.ELFArch(m)
	if got == "" {
		got = m.String()
	}
	if want == "" || want == "unknown" {
		return fmt.Errorf("%s: the image's architecture is not known (no /proc/cpuinfo, no dpkg database, no ELF /bin/sh); give --platform", name)
	}
	if got != want {
		return fmt.Errorf("%s is built for %s, the image is %s: build or install ezedge-host for %s", name, got, want, want)
	}
	return nil
}

// InstallPlan is the plan that installs first-boot provisioning into the
// image at h: the binary, the profile given (nil: the image's own is left
// as it is, the package's conffile or one put there before) and the unit.
func InstallPlan(h *hostroot.Root, facts *platform.Facts, binary, profile []byte) (*plan.Plan, error) {
	mid, _ := h.ReadFile("/etc/machine-id")
	firstBoot := strings.TrimSpace(string(mid)) == "uninitialized"
	p := &plan.Plan{Root: h.Dir(), Facts: facts}
	if !firstBoot {
		p.Notes = append(p.Notes, "firstboot: /etc/machine-id is not \"uninitialized\": the unit runs once, until "+Done+" exists")
	}
	add := func(r resource.Resource, want resource.State) error {
		c, err := plan.NewChange(h, "firstboot", r, want)
		if err != nil {
			return err
		}
		p.Changes = append(p.Changes, c)
		return nil
	}
	// The packaged binary is the image's own (dpkg keeps it up to date):
	// the unit runs it and nothing is copied.
	exe := Binary
	packaged := h.Exists(platform.PackagedBinary)
	if packaged {
		exe = platform.PackagedBinary
		head, err := h.ReadPrefix(exe, 64)
		if err != nil {
			return nil, err
		}
		if err := CheckArch(exe, head, facts); err != nil {
			return nil, err
		}
	} else {
		if err := CheckArch("this binary", binary, facts); err != nil {
			return nil, err
		}
		bin := resource.Content(binary)
		bin.Mode = 0o755
		if err := add(resource.File(Binary), bin); err != nil {
			return nil, err
		}
	}
	// The first boot plans with the image's Profile, as every command
	// does: a profile given becomes it.
	if profile != nil {
		if err := add(resource.File(Profile), resource.Content(profile)); err != nil {
			return nil, err
		}
	}
	if err := add(resource.File(unitFile), resource.Content([]byte(UnitText(installHeader, exe, firstBoot)))); err != nil {
		return nil, err
	}
	if err := add(resource.File(presetFile), resource.Content([]byte(installHeader+"# The package's preset keeps its units disabled; this one is enabled.\nenable "+UnitName+"\n"))); err != nil {
		return nil, err
	}
	// Enabling the unit is the next step (Enable): its links are read from
	// the unit file, which this plan puts in place.
	return p, nil
}

// Enable is the second step of install: the unit's [Install] links, planned
// once its file is in place.
func Enable(h *hostroot.Root, facts *platform.Facts) (*plan.Plan, error) {
	u := resource.Unit(UnitName)
	cur, err := u.Read(h)
	if err != nil {
		return nil, err
	}
	links, err := resource.InstallLinks(h, UnitName)
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", UnitName, err)
	}
	want := resource.UnitEnabled(cur, links)
	c, err := plan.NewChange(h, "firstboot", u, want)
	if err != nil {
		return nil, err
	}
	return &plan.Plan{Root: h.Dir(), Facts: facts, Changes: []plan.Change{c}}, nil
}

// Report is what the first-boot apply did, kept in Result.
type Report struct {
	FormatVersion int       `json:"format_version"`
	RanAt         time.Time `json:"ran_at"`
	SnapshotID    string    `json:"snapshot_id"`
	Changes       int       `json:"changes"`
	Error         string    `json:"error,omitempty"`
}

// ReportVersion is the format of Result.
const ReportVersion = 1

// Write records the report and the done marker.
func Write(h *hostroot.Root, o Report) error {
	b, _ := json.MarshalIndent(o, "", "  ")
	if err := statedir.Ensure(h); err != nil {
		return err
	}
	if err := h.WriteAtomic(Result, append(b, '\n'), 0o600, os.Geteuid(), os.Getegid()); err != nil {
		return err
	}
	return h.WriteAtomic(Done, []byte(o.RanAt.Format(time.RFC3339)+"\n"), 0o600, os.Geteuid(), os.Getegid())
}

// Status is whether first-boot provisioning is installed and whether it ran.
type Status struct {
	Installed bool
	Ran       bool
	Report    *Report
}

// Read reads the first-boot status of the root at h.
func Read(h *hostroot.Root) (Status, error) {
	s := Status{Installed: h.Exists(unitFile)}
	b, err := h.ReadPrivate(Result, 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		s.Ran = h.Exists(Done)
		return s, nil
	}
	if err != nil {
		return s, err
	}
	var o Report
	if err := json.Unmarshal(b, &o); err != nil {
		return s, fmt.Errorf("%s: %w", Result, err)
	}
	s.Ran, s.Report = true, &o
	return s, nil
}
