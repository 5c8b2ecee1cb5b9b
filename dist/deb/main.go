// Command packaging builds ezedge-host's Debian packages (make deb): one
// static binary per architecture, the man pages, shell completions and
// systemd units the binary itself generates, and the files in debian/,
// put together with nfpm used as a library (no nfpm binary to download).
//
// It is its own module so that nfpm and its dependencies stay out of
// ezedge-host's go.mod and out of `go test ./...` (make test).
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Arches are the Debian architectures built, with their Go targets.
// armhf is GOARM=6: Raspberry Pi OS's armhf userland is built for ARMv6
// with VFP (it still runs on the Pi 1 and Zero), stricter than Debian's
// ARMv7 armhf; a GOARM=6 binary runs on both, GOARM=7 would not run on an
// ARMv6 Pi. ezedge-host spends its time in system calls, not arithmetic.
var Arches = map[string][]string{
	"amd64": {"GOARCH=amd64"},
	"arm64": {"GOARCH=arm64"},
	"armhf": {"GOARCH=arm", "GOARM=6"},
}

const (
	name       = "ezedge-host"
	maintainer = "ezedge-host maintainers <maintainers@users.noreply.r-seed-93c47300.example>"
	homepage   = "https://github.com/ezansiedgeai/ezedge-host"
	// The package's own revision: ezedge-host is not a Debian-native
	// package (its upstream is this repository), so the version carries
	// one and the changelog is changelog.Debian.gz.
	revision = "1"
)

func main() {
	repo := flag.String("repo", "../..", "ezedge-host's source tree")
	out := flag.String("out", "../../out", "directory the .deb files are written to")
	version := flag.String("version", "", "upstream version (default: from git describe)")
	arches := flag.String("arch", "amd64,arm64,armhf", "Debian architectures to build")
	flag.Parse()
	if err := run(*repo, *out, *version, strings.Split(*arches, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
}

func run(repo, out, version string, arches []string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	when, err := commitTime(repo)
	if err != nil {
		return err
	}
	if version == "" {
		if version, err = gitVersion(repo); err != nil {
			return err
		}
	}
	if !debVersion.MatchString(version) {
		return fmt.Errorf("version %q is not a Debian upstream version", version)
	}
	work, err := os.MkdirTemp("", "ezedge-deb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// The generated files come from a build for this machine (it has to
	// run here); they do not depend on the architecture.
	host := filepath.Join(work, "host", name)
	if err := goBuild(repo, host, version, nil); err != nil {
		return err
	}
	gen := filepath.Join(work, "gen")
	if err := generate(host, gen, version, when); err != nil {
		return err
	}
	if err := writeDocs(repo, filepath.Join(gen, "doc")); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, a := range arches {
		env, ok := Arches[a]
		if !ok {
			return fmt.Errorf("unknown architecture %q", a)
		}
		bin := filepath.Join(work, a, name)
		if err := goBuild(repo, bin, version, env); err != nil {
			return err
		}
		deb := filepath.Join(out, fmt.Sprintf("%s_%s-%s_%s.deb", name, version, revision, a))
		if err := pack(repo, gen, bin, a, version, when, deb); err != nil {
			return fmt.Errorf("%s: %w", deb, err)
		}
		fi, _ := os.Stat(deb)
		fmt.Printf("%s\t%d bytes\n", deb, fi.Size())
	}
	return nil
}

// debVersion: what dpkg accepts as an upstream version without an epoch
// or a hyphen (the revision is added).
var debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// gitVersion turns git describe into a Debian version that sorts the way
// the history does: v1.2.0 is 1.2.0, three commits after it
// 1.2.0+git3.g1234abc; with no tag 0~git<commit date>.<hash>, which sorts
// before any release. A dirty tree is marked +dirty.
func gitVersion(repo string) (string, error) {
	d, err := git(repo, "describe", "--tags", "--always", "--dirty")
	if err != nil {
		return "", err
	}
	dirty := strings.HasSuffix(d, "-dirty")
	d = strings.TrimSuffix(d, "-dirty")
	short, err := git(repo, "rev-parse", "--short", "HEAD")
	if err != nil {
		return "", err
	}
	var v string
	if m := regexp.MustCompile(`^v?([0-9][A-Za-z0-9.]*)(?:-([0-9]+)-(g[0-9a-f]+))?$`).FindStringSubmatch(d); m != nil && d != short {
		v = m[1]
		if m[2] != "" {
			v += "+git" + m[2] + "." + m[3]
		}
	} else {
		date, err := git(repo, "log", "-1", "--format=%cd", "--date=format:%Y%m%d%H%M%S")
		if err != nil {
			return "", err
		}
		v = "0~git" + date + "." + d
	}
	if dirty {
		v += "+dirty"
	}
	return v, nil
}

// commitTime is HEAD's commit time: every file's mtime, so that building
// the same commit twice gives the same package.
func commitTime(repo string) (time.Time, error) {
	s, err := git(repo, "log", "-1", "--format=%ct")
	if err != nil {
		return time.Time{}, err
	}
	var sec int64
	if _, err := fmt.Sscan(s, &sec); err != nil {
		return time.Time{}, fmt.Errorf("git log: %q: %w", s, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func git(repo string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// goBuild builds a static, stripped ezedge-host (CGO_ENABLED=0: no libc to
// depend on, the same binary on every Debian and Raspberry Pi OS release).
func goBuild(repo, out, version string, env []string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -X main.version="+version, "-o", out, "./cmd/ezedge-host")
	cmd.Dir = repo
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %v: %w", env, err)
	}
	return nil
}

// generate writes what the binary knows about itself into dir: man pages
// (gzip -9n), completions, and the systemd units.
func generate(bin, dir, version string, when time.Time) error {
	man := filepath.Join(dir, "man")
	// The pages are dated by the commit, not the build
	// (reproducible-builds.org's SOURCE_DATE_EPOCH).
	gen := exec.Command(bin, "gen-man", man)
	gen.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", when.Unix()))
	if err := gen.Run(); err != nil {
		return fmt.Errorf("%s gen-man: %w", bin, err)
	}
	pages, _ := filepath.Glob(filepath.Join(man, "*.8"))
	if len(pages) == 0 {
		return fmt.Errorf("%s gen-man wrote no pages", bin)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := writeGzip(p+".gz", b); err != nil {
			return err
		}
		os.Remove(p)
	}
	if err := exec.Command(bin, "gen-units", filepath.Join(dir, "units")).Run(); err != nil {
		return fmt.Errorf("%s gen-units: %w", bin, err)
	}
	comp := filepath.Join(dir, "completion")
	if err := os.MkdirAll(comp, 0o755); err != nil {
		return err
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		b, err := exec.Command(bin, "completion", sh).Output()
		if err != nil {
			return fmt.Errorf("%s completion %s: %w", bin, sh, err)
		}
		if err := os.WriteFile(filepath.Join(comp, sh), b, 0o644); err != nil {
			return err
		}
	}
	// The version goes on a line of its own: a git version is long, and
	// lintian wants changelog lines under 80 columns.
	entry := fmt.Sprintf("%s (%s-%s) unstable; urgency=medium\n\n  * Built from the ezedge-host source tree, version\n    %s.\n\n -- %s  %s\n",
		name, version, revision, version, maintainer, when.Format(time.RFC1123Z))
	return writeGzip(filepath.Join(dir, "changelog.Debian.gz"), []byte(entry))
}

// Docs are the manual shipped in /usr/share/doc/ezedge-host, by their
// paths in the repository (README.md links to docs/…, so the layout is
// kept): the manual in docs/ as a whole, so that every link between its
// pages, and the ones the units' and README.Debian's name, resolve.
func Docs(repo string) ([]string, error) {
	out := []string{"README.md"}
	ents, err := os.ReadDir(filepath.Join(repo, "docs"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, "docs/"+e.Name())
		}
	}
	return out, nil
}

// compressAbove is the size above which a document is shipped gzipped
// (Debian policy 12.3, as dh_compress does it).
const compressAbove = 4096

// DocName is where a document of the repository goes under
// /usr/share/doc/ezedge-host: the same path, with .gz when compressed.
func DocName(rel string, size int64) string {
	if size > compressAbove {
		return rel + ".gz"
	}
	return rel
}

// writeDocs puts the documents, compressed as policy says, under dir at
// the paths they take under /usr/share/doc/ezedge-host.
func writeDocs(repo, dir string) error {
	docs, err := Docs(repo)
	if err != nil {
		return err
	}
	for _, rel := range docs {
		b, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, DocName(rel, int64(len(b))))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if strings.HasSuffix(dst, ".gz") {
			err = writeGzip(dst, b)
		} else {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeGzip is gzip -9n: no name, no time stamp in the header.
func writeGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Contents is where each file goes in the package (a conffile when config).
func Contents(repo, gen, bin string) (files.Contents, error) {
	deb := filepath.Join(repo, "dist", "deb", "debian")
	doc := "/usr/share/doc/" + name
	c := []struct {
		src, dst string
		mode     fs.FileMode
		config   bool
	}{
		{bin, "/usr/sbin/" + name, 0o755, false},
		{filepath.Join(deb, "profile.yaml"), "/etc/ezedge-host/profile.yaml", 0o644, true},
		{filepath.Join(deb, "copyright"), doc + "/copyright", 0o644, false},
		{filepath.Join(deb, "README.Debian"), doc + "/README.Debian", 0o644, false},
		{filepath.Join(gen, "changelog.Debian.gz"), doc + "/changelog.Debian.gz", 0o644, false},
		{filepath.Join(deb, "lintian-overrides"), "/usr/share/lintian/overrides/" + name, 0o644, false},
		{filepath.Join(deb, "ezedge-host.preset"), "/usr/lib/systemd/system-preset/50-" + name + ".preset", 0o644, false},
		{filepath.Join(gen, "completion", "bash"), "/usr/share/bash-completion/completions/" + name, 0o644, false},
		{filepath.Join(gen, "completion", "zsh"), "/usr/share/zsh/vendor-completions/_" + name, 0o644, false},
		{filepath.Join(gen, "completion", "fish"), "/usr/share/fish/vendor_completions.d/" + name + ".fish", 0o644, false},
		{filepath.Join(repo, "dist", "prometheus", name+".rules.yml"), "/usr/share/" + name + "/prometheus/" + name + ".rules.yml", 0o644, false},
	}
	var out files.Contents
	add := func(src, dst string, mode fs.FileMode, config bool) {
		t := files.TypeFile
		if config {
			t = files.TypeConfig
		}
		out = append(out, &files.Content{Source: src, Destination: dst, Type: t,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}})
	}
	for _, e := range c {
		if _, err := os.Stat(e.src); err != nil {
			if e.src == filepath.Join(deb, "lintian-overrides") && os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		add(e.src, e.dst, e.mode, e.config)
	}
	docs, err := Docs(repo)
	if err != nil {
		return nil, err
	}
	for _, rel := range docs {
		st, err := os.Stat(filepath.Join(repo, rel))
		if err != nil {
			return nil, err
		}
		name := DocName(rel, st.Size())
		add(filepath.Join(gen, "doc", name), doc+"/"+name, 0o644, false)
	}
	for _, sub := range []struct{ dir, dst string }{{"man", "/usr/share/man/man8/"}, {"units", "/usr/lib/systemd/system/"}} {
		ents, err := os.ReadDir(filepath.Join(gen, sub.dir))
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			add(filepath.Join(gen, sub.dir, n), sub.dst+n, 0o644, false)
		}
	}
	return out, nil
}

// Suggests: the node exporter reads the check's metrics (its textfile
// collector); the tuning is for hosts running Podman containers, which the
// check and `resources` look at. Neither is needed to plan, apply or roll
// back, so neither is a Recommends.
var Suggests = []string{"podman", "prometheus-node-exporter"}

func pack(repo, gen, bin, arch, version string, when time.Time, path string) error {
	contents, err := Contents(repo, gen, bin)
	if err != nil {
		return err
	}
	scripts := filepath.Join(repo, "dist", "deb", "debian")
	info := &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Release:       revision,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Homepage:      homepage,
		Description: "host provisioning and tuning for edge hosts and Raspberry Pi\n" +
			"ezedge-host reads a host's facts (or an offline image root's), plans\n" +
			"kernel, storage, network and service tuning for a Raspberry Pi 4 or 5\n" +
			"or an amd64 or arm64 edge host, and applies it with a snapshot that\n" +
			"rolls back byte for byte. It can make an image provision itself on its\n" +
			"first boot.\n" +
			"\n" +
			"Nothing is changed or started on install: the systemd units are\n" +
			"shipped disabled and the profile only takes effect when applied.",
		MTime: when,
		Overridables: nfpm.Overridables{
			Suggests: Suggests,
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
