// Package lock is the host lock: one apply, rollback, confirm or revert
// changes a host at a time.
//
// It is an open file description lock (fcntl F_OFD_SETLK) on
// /var/lib/ezedge-host/lock, taken on the whole file. The kernel releases
// it when its holder dies, so a lock file left behind never blocks; and
// unlike flock(2), another process can ask whether it is held (F_OFD_GETLK)
// without taking it even for an instant, so that a plan or status run by
// monitoring never makes an apply fail.
package lock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
)

// File is the lock file inside the root.
var File = statedir.Path("lock")

// Lock is the held host lock.
type Lock struct{ f *hostroot.File }

// grace is how long Take waits even with no timeout: a lock released by
// its holder stays held until every copy of its descriptor is closed, and a
// process that forked just then keeps a copy until its child execs.
const grace = time.Second

// Take takes the host's lock for cmd, waiting up to timeout (0: fail at
// once, after a short grace). The error names the holder's PID and command.
func Take(h *hostroot.Root, timeout time.Duration, cmd string) (*Lock, error) {
	if err := statedir.Ensure(h); err != nil {
		return nil, err
	}
	f, err := h.OpenPrivate(File, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(max(timeout, grace))
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: 0})
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", File, err)
		}
		if !time.Now().Before(deadline) {
			who := holder(f)
			f.Close()
			wait := "--lock-timeout to wait for it"
			if timeout > 0 {
				wait = fmt.Sprintf("waited %s", timeout)
			}
			return nil, fmt.Errorf("another ezedge-host is changing this host (pid and command: %s); %s", who, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The file is this user's own, a regular file with one name
	// (OpenPrivate checked): truncating it touches nothing else.
	if err := f.Truncate(0); err == nil {
		f.WriteAt(fmt.Appendf(nil, "%d %s\n", os.Getpid(), cmd), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() {
	l.f.Truncate(0)
	l.f.Close()
}

// Holder says whether another process holds the lock of h, and who
// ("pid command"), without taking it. A reader that cannot open the lock
// file (not root) cannot tell: held is false, and known says so.
func Holder(h *hostroot.Root) (who string, held, known bool) {
	f, err := h.OpenPrivate(File, os.O_RDONLY)
	if err != nil {
		// No lock file: nobody has ever held it.
		return "", false, errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return "", false, false
	}
	if lk.Type == unix.F_UNLCK {
		return "", false, true
	}
	return holder(f), true, true
}

func holder(f *hostroot.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	who := strings.TrimSpace(string(b[:n]))
	if who == "" {
		return "unknown"
	}
	return who
}
