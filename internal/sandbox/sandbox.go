// Package sandbox holds the systemd sandboxing of the services ezedge-host
// writes and the Debian package ships: what each may do, measured against
// what it does (docs/packages.md#sandboxing has the figures
// `systemd-analyze security` gives them). The unit texts themselves are
// made by their owners (the check-timer task, first-boot provisioning, the
// try apply's boot unit) with these lines in their [Service] section, so
// the unit a task writes and the one the package ships stay one text.
package sandbox

import (
	"path"
	"strings"
)

// PrivateToCheck says why the check's sandbox does not show the host's p
// to the check ("" when it does): /tmp and /var/tmp are its own
// (PrivateTmp=), so a textfile or profile there is not the host's.
func PrivateToCheck(p string) string {
	p = path.Clean(p)
	for _, d := range []string{"/tmp", "/var/tmp"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "under " + d + ", which the check's service has a private one of (PrivateTmp=)"
		}
	}
	return ""
}

// Check is the sandbox of `ezedge-host check` run by its timer as root:
// it reads the host and writes only its textfile, atomically, in
// textfileDir. Each line was measured by running the check under it in a
// booted systemd (Debian's 252, with Podman 4.3 running a container) and
// comparing its JSON with an unsandboxed run's: the same results.
//
// What it keeps, and why:
//   - the host's network namespace (no PrivateNetwork=): the plan's WiFi
//     guard reads routes and TCP sessions in /proc/net, which a private
//     namespace would empty;
//   - the whole of /proc (no ProtectProc=, ProcSubset=) and
//     CAP_SYS_PTRACE: the guard finds SSH sessions through the sockets in
//     sshd's /proc/PID/fd, which the kernel shows another process only
//     with that capability (sshd holds capabilities the check does not);
//   - /usr/lib/modules (no ProtectKernelModules=): the facts read which
//     modules the kernel ships; loading them is still refused (no
//     CAP_SYS_MODULE, no @module system calls);
//   - CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: the textfile directory
//     may belong to the exporter's user, and the facts read files of
//     other users;
//   - for `podman ps` (the containers' names): CAP_SYS_ADMIN (Podman
//     takes a root without it for a rootless user and tries to make a
//     user namespace), mount(2) (its overlay driver remounts its own
//     directory private, inside the check's mount namespace) and write
//     access to Podman's storage and runtime directories (its database
//     and locks); the "-" lets a host without Podman start the unit;
//   - chown(2) on its own files only (no CAP_CHOWN): the textfile is
//     written with its owner set.
//
// Everything else is read-only (ProtectSystem=strict, the kernel's
// tunables, cgroups, home directories), private (/tmp, devices, IPC,
// mounts) or refused (IP sockets, new privileges, namespaces, realtime,
// set-user-ID files, writable executable memory, other ABIs).
func Check(textfileDir string) string {
	return `# Sandbox: read-only but for the textfile and Podman's storage (podman ps).
# Why each line: ezedge-host's docs/packages.md, in /usr/share/doc/ezedge-host.
ProtectSystem=strict
ReadWritePaths=` + textfileDir + `
ReadWritePaths=-/var/lib/containers -/run/containers -/run/libpod
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateIPC=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
NoNewPrivileges=yes
CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN
RestrictAddressFamilies=AF_UNIX
IPAddressDeny=any
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallFilter=@chown @mount
SystemCallErrorNumber=EPERM
UMask=0022
`
}

// HostChanging is the sandbox of the services that change the host: the
// first-boot apply and the boot-time revert of try applies. They write
// /etc, /boot and the state directory, set sysctls and sysfs attributes
// live (CAP_NET_ADMIN among them: rfkill, net.*), enable and start units
// over D-Bus, and run grub-mkconfig or the Raspberry Pi firmware hook,
// which open block devices. So nothing here narrows the file system, the
// devices or /proc, and there is no mount namespace at all: the planner
// reads /proc/mounts (the root's options, whether /tmp is a tmpfs) as the
// host has them. What is taken away is what none of them does: new
// privileges, IP and exotic sockets (D-Bus is AF_UNIX; netlink kept for
// the helpers), namespaces, realtime scheduling, set-user-ID files,
// writable executable memory, other ABIs, and the capabilities and system
// calls of clocks, reboot, swap, kernel modules, raw I/O, tracing,
// accounting, leases, wake alarms, device nodes, immutable files and MAC
// policy, and the host name (its own UTS namespace).
const HostChanging = `# Sandbox: only what changing the host does not need is taken away.
# Why each line: ezedge-host's docs/packages.md, in /usr/share/doc/ezedge-host.
NoNewPrivileges=yes
CapabilityBoundingSet=~CAP_SYS_TIME CAP_WAKE_ALARM CAP_SYS_BOOT CAP_SYS_MODULE CAP_SYS_PACCT CAP_SYS_TTY_CONFIG CAP_LEASE CAP_BLOCK_SUSPEND CAP_IPC_LOCK CAP_LINUX_IMMUTABLE CAP_MKNOD CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BPF CAP_PERFMON CAP_SYSLOG CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW
RestrictAddressFamilies=AF_UNIX AF_NETLINK
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap
IPAddressDeny=any
SystemCallErrorNumber=EPERM
`
