package hostconf

import (
	"path"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// confFiles lists the files with suffix in dirs (highest precedence first)
// the way systemd and udev read such drop-in directories: a name in an
// earlier directory masks the same name in later ones (a link to
// /dev/null masks it and is read as empty, or not read in an image, whose
// /dev is empty), hidden files are left out, and the result is in name
// order whatever the directory.
func confFiles(h *hostroot.Root, dirs []string, suffix string) []string {
	byName := map[string]string{}
	for _, d := range dirs {
		ents, err := h.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			// conf_files_list() leaves out hidden files (".x.conf").
			if !strings.HasSuffix(e.Name(), suffix) || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if _, masked := byName[e.Name()]; !masked {
				byName[e.Name()] = path.Join(d, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = byName[n]
	}
	return files
}
