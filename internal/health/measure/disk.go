package measure

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// chunk is one direct read: large enough that the device streams, small
// enough that a deadline is never overrun by much.
const chunk = 1 << 20

// Runs is how many times each method runs within its share of the budget.
const Runs = 3

// ReadDevice measures sequential read throughput of a block device, the
// guide's `hdparm -t`: 1 MiB reads with O_DIRECT, so the page cache
// neither serves nor keeps them, from the start of the device onwards,
// in Runs consecutive runs. The device is opened read-only and never
// written. regular allows a regular file (tests: a file on a filesystem
// that takes direct I/O stands in for a device).
func ReadDevice(path string, d Deadline, regular bool) (f Figure) {
	f = Figure{Kind: DiskRead, Target: path, Unit: MBps,
		Method: fmt.Sprintf("sequential %d KiB reads with O_DIRECT (page cache bypassed), read-only, %d runs", chunk>>10, Runs)}
	defer f.finish()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		var st unix.Stat_t
		if lerr := unix.Lstat(path, &st); lerr == nil && st.Mode&unix.S_IFMT != unix.S_IFBLK && !(regular && st.Mode&unix.S_IFMT == unix.S_IFREG) {
			f.Error = path + " is not a block device"
		} else if errors.Is(err, unix.EINVAL) {
			f.Error = path + " does not take direct I/O"
		} else {
			f.Error = fmt.Sprintf("open %s: %v", path, err)
		}
		return f
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Error = err.Error()
		return f
	}
	var size int64
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFBLK:
		var n uint64
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&n))); e != 0 {
			f.Error = fmt.Sprintf("%s: size: %v", path, e)
			return f
		}
		size = int64(n)
	case regular && st.Mode&unix.S_IFMT == unix.S_IFREG:
		size = st.Size
	default:
		f.Error = path + " is not a block device"
		return f
	}
	size -= size % chunk
	if size < chunk {
		f.Error = path + " is smaller than one read"
		return f
	}
	// Direct I/O wants an aligned buffer: an anonymous mapping is.
	buf, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	defer unix.Munmap(buf)
	var off int64
	for _, run := range d.Split(Runs) {
		var n int64
		start := time.Now()
		for !run.Passed() {
			r, err := unix.Pread(fd, buf, off)
			if err != nil {
				f.Error = fmt.Sprintf("read %s at %d: %v", path, off, err)
				return f
			}
			if r <= 0 {
				break
			}
			n += int64(r)
			if off += int64(r); off >= size {
				off = 0
			}
		}
		if el := time.Since(start); n > 0 && el > 0 {
			f.Runs = append(f.Runs, float64(n)/1e6/el.Seconds())
		}
	}
	return f
}

// TempPrefix starts the name of the one file SyncWrite writes: a crash
// leaves it behind under this name, which the next run removes.
const TempPrefix = ".ezedge-host-measure-"

// SyncWrite measures what a database or a model cache feels on the
// filesystem holding dir: the latency of a 4 KiB write followed by
// fdatasync, the same block rewritten, in Runs runs. It writes one new
// file in dir (O_EXCL, mode 0600) and removes it before returning.
func SyncWrite(dir string, d Deadline) (f Figure) {
	f = Figure{Kind: Sync, Target: dir, Unit: Ms, Lower: true,
		Method: fmt.Sprintf("4 KiB pwrite + fdatasync of one block in a temporary file, median latency of each of %d runs", Runs)}
	defer f.finish()
	// A temporary file a crash left behind goes first.
	if old, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"*")); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	var tag [8]byte
	io.ReadFull(rand.Reader, tag[:])
	name := filepath.Join(dir, fmt.Sprintf("%s%x", TempPrefix, tag))
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		f.Error = fmt.Sprintf("create a file in %s: %v", dir, err)
		return f
	}
	defer os.Remove(name)
	defer unix.Close(fd)
	block := make([]byte, 4096)
	io.ReadFull(rand.Reader, block)
	for _, run := range d.Split(Runs) {
		var lat []float64
		for !run.Passed() {
			block[0]++
			start := time.Now()
			if _, err := unix.Pwrite(fd, block, 0); err != nil {
				f.Error = err.Error()
				return f
			}
			if err := unix.Fdatasync(fd); err != nil {
				f.Error = err.Error()
				return f
			}
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		}
		if len(lat) > 0 {
			f.Runs = append(f.Runs, median(lat))
		}
	}
	return f
}

func median(v []float64) float64 {
	g := Figure{Runs: v}
	g.finish()
	return g.Median
}
