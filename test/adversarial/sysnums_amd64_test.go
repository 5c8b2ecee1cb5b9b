//go:build linux

package adversarial

import "golang.org/x/sys/unix"

// sysnums maps the write-type system calls the kill sweeps cut at to their
// numbers on this architecture.
var sysnums = map[string]uint64{
	"write": unix.SYS_WRITE, "pwrite64": unix.SYS_PWRITE64, "writev": unix.SYS_WRITEV,
	"rename": unix.SYS_RENAME, "renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2,
	"mkdir": unix.SYS_MKDIR, "mkdirat": unix.SYS_MKDIRAT,
	"symlink": unix.SYS_SYMLINK, "symlinkat": unix.SYS_SYMLINKAT,
	"unlink": unix.SYS_UNLINK, "unlinkat": unix.SYS_UNLINKAT, "rmdir": unix.SYS_RMDIR,
	"fsync": unix.SYS_FSYNC, "fdatasync": unix.SYS_FDATASYNC, "ftruncate": unix.SYS_FTRUNCATE,
	"fchmod": unix.SYS_FCHMOD, "fchmodat": unix.SYS_FCHMODAT, "fchmodat2": unix.SYS_FCHMODAT2,
	"fchown": unix.SYS_FCHOWN, "fchownat": unix.SYS_FCHOWNAT, "linkat": unix.SYS_LINKAT,
}
