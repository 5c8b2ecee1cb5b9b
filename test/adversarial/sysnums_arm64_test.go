//go:build linux

package adversarial

import "golang.org/x/sys/unix"

// sysnums maps the write-type system calls the kill sweeps cut at to their
// numbers on this architecture. arm64 has only the *at forms (no rename,
// mkdir, symlink, unlink, rmdir).
var sysnums = map[string]uint64{
	"write": unix.SYS_WRITE, "pwrite64": unix.SYS_PWRITE64, "writev": unix.SYS_WRITEV,
	"renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2, "mkdirat": unix.SYS_MKDIRAT,
	"symlinkat": unix.SYS_SYMLINKAT, "unlinkat": unix.SYS_UNLINKAT,
	"fsync": unix.SYS_FSYNC, "fdatasync": unix.SYS_FDATASYNC, "ftruncate": unix.SYS_FTRUNCATE,
	"fchmod": unix.SYS_FCHMOD, "fchmodat": unix.SYS_FCHMODAT, "fchmodat2": unix.SYS_FCHMODAT2,
	"fchown": unix.SYS_FCHOWN, "fchownat": unix.SYS_FCHOWNAT, "linkat": unix.SYS_LINKAT,
}
