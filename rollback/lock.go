package rollback

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile serialises every command that changes the host. flock(2) is
// released by the kernel when its holder dies, so a stale lock never
// blocks. It is opened through the root like every other file (a library
// taking a plain path could be led out of it by a symlink).
const lockFile = Dir + "/lock"

// Lock takes the host's exclusive lock for cmd, waiting up to timeout (0:
// fail at once). The error names the holder's PID and command.
func (s *Store) Lock(timeout time.Duration, cmd string) (unlock func(), err error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	f, err := s.h.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %v", lockFile, err)
		}
		if !time.Now().Before(deadline) {
			holder := make([]byte, 256)
			n, _ := f.ReadAt(holder, 0)
			f.Close()
			who := strings.TrimSpace(string(holder[:n]))
			if who == "" {
				who = "unknown"
			}
			wait := "--lock-timeout to wait for it"
			if timeout > 0 {
				wait = fmt.Sprintf("waited %s", timeout)
			}
			return nil, fmt.Errorf("another ezedge-host is changing this host (pid and command: %s); %s", who, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), cmd)), 0)
	return func() {
		f.Truncate(0)
		f.Close()
	}, nil
}

// ensure creates the store's directories (0700) where they are missing.
func (s *Store) ensure() error {
	for _, d := range []string{"/var", "/var/lib", Dir, snapDir} {
		if _, err := s.h.Stat(d); errors.Is(err, fs.ErrNotExist) {
			perm := fs.FileMode(0o755)
			if strings.HasPrefix(d, Dir) {
				perm = 0o700
			}
			if err := s.h.Mkdir(d, perm); err != nil {
				return fmt.Errorf("snapshot store: %v", err)
			}
		}
	}
	return nil
}
