// Command debroot builds the shared Debian roots (package debroot) for
// what is not a Go program of this module: make roots, which CI runs
// first, and the Ansible collection's chroot test (dist/ansible/test.sh).
//
//	debroot [-cache DIR] build NAME...   build each root once, side by side; print their paths
//	debroot [-cache DIR] layer DIR NAME  mount an overlay of the root at DIR/root; print DIR/root
//	debroot list                         every root: name, key, packages
//
// layer mounts in the caller's mount namespace, which must be one of its
// own (unshare --mount): the overlay's upper folder, DIR/upper, takes
// every change, and the root stays as it was built.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

func main() {
	cache := flag.String("cache", debroot.CacheIn("."), "folder for the cached roots (git-ignored; $"+debroot.CacheEnv+" sets the default)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: debroot [-cache DIR] build NAME... | layer DIR NAME | list\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*cache, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "debroot: %v\n", err)
		os.Exit(1)
	}
}

func spec(name string) (debroot.Spec, error) {
	s, ok := debroot.Specs[name]
	if !ok {
		var names []string
		for n := range debroot.Specs {
			names = append(names, n)
		}
		sort.Strings(names)
		return s, fmt.Errorf("%q: no such root (%s)", name, strings.Join(names, ", "))
	}
	return s, nil
}

func run(cache string, args []string) error {
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	switch args[0] {
	case "list":
		var names []string
		for n := range debroot.Specs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s := debroot.Specs[n]
			p, err := s.Path(cache)
			if err != nil {
				return err
			}
			fmt.Printf("%s\t%s\t%s\n", n, p, strings.Join(s.Packages, ","))
		}
		return nil
	case "build":
		var specs []debroot.Spec
		for _, n := range args[1:] {
			s, err := spec(n)
			if err != nil {
				return err
			}
			specs = append(specs, s)
		}
		// Side by side: each build waits mostly on the mirror, dpkg
		// (one process) and qemu-user.
		paths := make([]string, len(specs))
		errs := make([]error, len(specs))
		var wg sync.WaitGroup
		for i, s := range specs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				paths[i], errs[i] = debroot.Build(cache, s)
			}()
		}
		wg.Wait()
		for i := range specs {
			if errs[i] != nil {
				return errs[i]
			}
			fmt.Println(paths[i])
		}
		return nil
	case "layer":
		if len(args) != 3 {
			return fmt.Errorf("layer DIR NAME")
		}
		s, err := spec(args[2])
		if err != nil {
			return err
		}
		root, err := debroot.Build(cache, s)
		if err != nil {
			return err
		}
		dir, err := filepath.Abs(args[1])
		if err != nil {
			return err
		}
		l, err := debroot.NewLayer(root, dir)
		if err != nil {
			return err
		}
		if err := l.Mount(); err != nil {
			return err
		}
		fmt.Println(l.Root())
		return nil
	}
	flag.Usage()
	os.Exit(2)
	return nil
}
