// Package hostconf reads the host's drop-in configuration the way the
// programs that apply it at boot do: sysctl.d (systemd-sysctl), tmpfiles.d
// (systemd-tmpfiles) and udev rules, each directory set in its precedence
// order. The plan uses it to warn when another file undoes what
// ezedge-host persists. Every parser here is total: a line it cannot read
// is reported, never a failure.
package hostconf

import (
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Conf is every sysctl.d, tmpfiles.d and udev rules file of a host.
type Conf struct {
	// Sysctl are the files systemd-sysctl applies, in its order.
	Sysctl []SysctlFile
	// Tmpfiles are the files systemd-tmpfiles reads, in name order.
	Tmpfiles []TmpfilesFile
	// Udev are the rules of every rules file, in udev's order.
	Udev []UdevRule
}

// SysctlFile is one sysctl.d file and its settings.
type SysctlFile struct {
	Path     string
	Settings []SysctlSetting
}

// TmpfilesFile is one tmpfiles.d file and its lines.
type TmpfilesFile struct {
	Path  string
	Lines []TmpfilesLine
}

// Read reads the configuration of the host at h. A file that cannot be
// read (a FIFO, too large) is left out; hostroot keeps it for the plan's
// warnings.
func Read(h *hostroot.Root) *Conf {
	c := &Conf{}
	for _, f := range SysctlFiles(h) {
		if b, err := h.ReadFile(f); err == nil {
			set, _ := ParseSysctlConf(b)
			c.Sysctl = append(c.Sysctl, SysctlFile{f, set})
		}
	}
	for _, f := range confFiles(h, tmpfilesDirs, ".conf") {
		if b, err := h.ReadFile(f); err == nil {
			lines, _ := ParseTmpfiles(b)
			c.Tmpfiles = append(c.Tmpfiles, TmpfilesFile{f, lines})
		}
	}
	for _, f := range confFiles(h, udevDirs, ".rules") {
		if b, err := h.ReadFile(f); err == nil {
			rs, _ := ParseUdevRules(b)
			for i := range rs {
				rs[i].File = f
			}
			c.Udev = append(c.Udev, rs...)
		}
	}
	return c
}
