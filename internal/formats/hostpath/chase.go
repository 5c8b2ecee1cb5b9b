package hostpath

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// Resolver looks at a root's files without following a final link:
// *hostroot.Root is one.
type Resolver interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// maxFollow is CHASE_SYMLINKS_MAX: more links than this is ELOOP.
const maxFollow = 32

var (
	errLoop = errors.New("too many levels of symbolic links")
	errDots = errors.New("a missing directory followed by \"..\"")
)

// In is p with its symbolic links followed inside the root r, for the
// readers that follow them (FstabGenerator, Libmount): systemd's
// chase_symlinks(CHASE_PREFIX_ROOT|CHASE_NONEXISTENT). ".." goes to the
// parent of what is resolved so far (never above the root); a missing
// component ends the walk, the rest kept as written (unless it holds
// ".."); a path that cannot be chased is used as written, as the
// generator does. Other readers' paths are returned unchanged.
func (p Path) In(r Resolver) Path {
	if !p.OK() || p.Reader != FstabGenerator && p.Reader != Libmount {
		return p
	}
	if c, err := Chase(r, p.Path); err == nil {
		p.Path = Simplify(c)
	}
	return p
}

// Chase resolves p's symbolic links inside the root r as systemd's
// chase_symlinks() with CHASE_NONEXISTENT does; a relative p is taken
// from the root, as from the generators' working directory.
func Chase(r Resolver, p string) (string, error) {
	todo := p
	if !strings.HasPrefix(todo, "/") {
		todo = "/" + todo
	}
	done := "/"
	follow := maxFollow
	for {
		c, n := firstComponent(&todo)
		if n == 0 {
			return done, nil
		}
		if n < 0 {
			return "", errors.New("a component longer than NAME_MAX")
		}
		if c == ".." {
			if done != "/" {
				done = path.Dir(done)
			}
			continue
		}
		next := path.Join(done, c)
		st, err := r.Lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && (todo == "" || isSafe(todo)) {
				if todo == "" {
					return next, nil
				}
				return next + "/" + todo, nil
			}
			if errors.Is(err, fs.ErrNotExist) {
				return "", errDots
			}
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if follow--; follow <= 0 {
			return "", errLoop
		}
		t, err := r.Readlink(next)
		if err != nil {
			return "", err
		}
		if t == "" {
			return "", errors.New("an empty symbolic link")
		}
		if strings.HasPrefix(t, "/") {
			done = "/"
		}
		todo = t + "/" + todo
	}
}

// ChaseNoFollow is Chase leaving the final component as it is (a link
// there is not followed): CHASE_NOFOLLOW|CHASE_NONEXISTENT, what systemd
// makes of a unit symlink's target to tell an alias from a linked file.
func ChaseNoFollow(r Resolver, p string) (string, error) {
	s := Simplify(p)
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	dir, base := path.Split(s)
	if base == "" || base == "." {
		return "/", nil
	}
	d, err := Chase(r, dir)
	if err != nil {
		return "", err
	}
	if base == ".." {
		return path.Dir(d), nil
	}
	return path.Join(d, base), nil
}
