// Package profile reads the YAML profile that turns tasks on or off and
// overrides their values. It is strict: an unknown key, a wrong type, a
// duplicate key or a value out of range is an error naming file, line and key.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// MaxSize bounds a profile; a real one is a few hundred bytes.
const MaxSize = 64 << 10

// Version is the profile format this build reads.
const Version = 1

type Toggle struct {
	Enabled *bool `yaml:"enabled"`
}

type file struct {
	Version *int `yaml:"version"`
	Tasks   struct {
		Swappiness *struct {
			Toggle `yaml:",inline"`
			Value  *int `yaml:"value"`
		} `yaml:"swappiness"`
		NetBuffers *struct {
			Toggle  `yaml:",inline"`
			CoreMax *int64   `yaml:"core_max"`
			TCPRmem *[]int64 `yaml:"tcp_rmem"`
			TCPWmem *[]int64 `yaml:"tcp_wmem"`
		} `yaml:"net-buffers"`
		HugePages *struct {
			Toggle `yaml:",inline"`
			Pages  *int64 `yaml:"pages"`
		} `yaml:"hugepages"`
		THP *struct {
			Toggle `yaml:",inline"`
			Mode   *string `yaml:"mode"`
		} `yaml:"thp"`
		CPUGovernor *struct {
			Toggle   `yaml:",inline"`
			Governor *string `yaml:"governor"`
		} `yaml:"cpu-governor"`
		NVMeQueue *struct {
			Toggle     `yaml:",inline"`
			NrRequests *int `yaml:"nr_requests"`
		} `yaml:"nvme-queue"`
		Zswap *struct {
			Toggle     `yaml:",inline"`
			Compressor *string `yaml:"compressor"`
			Force      *bool   `yaml:"force"`
		} `yaml:"zswap"`
		CPUPstate *Toggle `yaml:"cpu-pstate"`
		Bluetooth *Toggle `yaml:"bluetooth"`
		WiFi      *Toggle `yaml:"wifi"`
		Fstrim    *Toggle `yaml:"fstrim"`
	} `yaml:"tasks"`
}

// Load reads and parses the profile at name. An empty name means no
// profile: the platform defaults.
func Load(name string) (tasks.Options, error) {
	if name == "" {
		return tasks.DefaultOptions(), nil
	}
	b, err := Read(name)
	if err != nil {
		return tasks.Options{}, err
	}
	return Parse(name, b)
}

// Read reads a profile file of at most MaxSize bytes. It may be a pipe
// (--profile <(...)): the size is bounded by reading, not by stat.
func Read(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %v", name, errors.Unwrap(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("profile %s: is a directory", name)
	} else if err == nil && st.Size() > MaxSize {
		return nil, fmt.Errorf("profile %s: %d bytes is larger than the %d-byte limit", name, st.Size(), MaxSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("profile %s: %v", name, errors.Unwrap(err))
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("profile %s: larger than the %d-byte limit", name, MaxSize)
	}
	return b, nil
}

var governorRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Parse reads profile bytes; name is used in errors.
func Parse(name string, b []byte) (o tasks.Options, err error) {
	o = tasks.DefaultOptions()
	// go-yaml v1.19.2 panics on some malformed input (a tag on an empty
	// sequence item, found by FuzzParse): that is a bad profile, not a
	// crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("profile %s: not a valid profile (the YAML parser failed: %v)", name, r)
		}
	}()
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return o, fmt.Errorf("profile %s:%d: binary data (NUL byte), not YAML", name, bytes.Count(b[:i], []byte("\n"))+1)
	}
	var f file
	ferrs, lines := decodeFile(b, &f)
	type lineErr struct {
		line int
		msg  string
	}
	var errs []lineErr
	for _, e := range ferrs {
		errs = append(errs, lineErr{e.line, fmt.Sprintf("profile %s:%d: %s: %s", name, e.line, e.path, e.msg)})
	}
	if len(errs) > 0 {
		// A value that could not be decoded is not range-checked too.
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.msg
		}
		return o, errors.New(strings.Join(msgs, "\n"))
	}
	bad := func(p, msg string) {
		line := lines[p]
		errs = append(errs, lineErr{line, fmt.Sprintf("profile %s:%d: %s: %s", name, line, p, msg)})
	}
	if f.Version == nil {
		errs = append(errs, lineErr{1, fmt.Sprintf("profile %s:1: version: missing (want version: %d)", name, Version)})
	} else if *f.Version != Version {
		bad("version", fmt.Sprintf("%d is not supported (this build reads version %d)", *f.Version, Version))
	}
	t := f.Tasks
	set := func(task string, tg Toggle) {
		if tg.Enabled != nil {
			o.Enabled[task] = *tg.Enabled
		}
	}
	if s := t.Swappiness; s != nil {
		set("swappiness", s.Toggle)
		if s.Value != nil {
			if *s.Value < 0 || *s.Value > 200 {
				bad("tasks.swappiness.value", fmt.Sprintf("%d out of range 0..200", *s.Value))
			}
			o.Swappiness = *s.Value
		}
	}
	if s := t.NetBuffers; s != nil {
		set("net-buffers", s.Toggle)
		if s.CoreMax != nil {
			if *s.CoreMax < 4096 || *s.CoreMax > 1<<31-1 {
				bad("tasks.net-buffers.core_max", fmt.Sprintf("%d out of range 4096..2147483647", *s.CoreMax))
			}
			o.NetCoreMax = *s.CoreMax
		}
		for _, tr := range []struct {
			key string
			v   *[]int64
			dst *[3]int64
		}{{"tcp_rmem", s.TCPRmem, &o.TCPRmem}, {"tcp_wmem", s.TCPWmem, &o.TCPWmem}} {
			if tr.v == nil {
				continue
			}
			v := *tr.v
			if len(v) != 3 || v[0] < 1 || v[0] > v[1] || v[1] > v[2] || v[2] > 1<<31-1 {
				bad("tasks.net-buffers."+tr.key, fmt.Sprintf("%v must be three sizes min <= default <= max, each 1..2147483647", v))
				continue
			}
			copy(tr.dst[:], v)
		}
	}
	if s := t.HugePages; s != nil {
		set("hugepages", s.Toggle)
		if s.Pages != nil {
			if *s.Pages < 0 || *s.Pages > 1<<30 {
				bad("tasks.hugepages.pages", fmt.Sprintf("%d out of range 0..1073741824", *s.Pages))
			}
			o.HugePages = *s.Pages
		}
	}
	if s := t.THP; s != nil {
		set("thp", s.Toggle)
		if s.Mode != nil {
			switch *s.Mode {
			case "always", "madvise", "never":
			default:
				bad("tasks.thp.mode", fmt.Sprintf("%q is not one of always, madvise, never", *s.Mode))
			}
			o.THP = *s.Mode
		}
	}
	if s := t.CPUGovernor; s != nil {
		set("cpu-governor", s.Toggle)
		if s.Governor != nil {
			if !governorRe.MatchString(*s.Governor) {
				bad("tasks.cpu-governor.governor", fmt.Sprintf("%q is not a governor name", *s.Governor))
			}
			o.Governor = *s.Governor
		}
	}
	if s := t.NVMeQueue; s != nil {
		set("nvme-queue", s.Toggle)
		if s.NrRequests != nil {
			if *s.NrRequests < 4 || *s.NrRequests > 65536 {
				bad("tasks.nvme-queue.nr_requests", fmt.Sprintf("%d out of range 4..65536", *s.NrRequests))
			}
			o.NVMeNrRequests = *s.NrRequests
		}
	}
	if s := t.Zswap; s != nil {
		set("zswap", s.Toggle)
		if s.Compressor != nil {
			switch *s.Compressor {
			case "lz4", "lz4hc", "zstd", "lzo", "lzo-rle", "deflate", "842":
			default:
				bad("tasks.zswap.compressor", fmt.Sprintf("%q is not a zswap compressor (lz4, lz4hc, zstd, lzo, lzo-rle, deflate, 842)", *s.Compressor))
			}
			o.ZswapCompressor = *s.Compressor
		}
		if s.Force != nil {
			o.ZswapForce = *s.Force
		}
	}
	for name, tg := range map[string]*Toggle{"cpu-pstate": t.CPUPstate, "bluetooth": t.Bluetooth, "wifi": t.WiFi, "fstrim": t.Fstrim} {
		if tg != nil {
			set(name, *tg)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.msg
		}
		return o, errors.New(strings.Join(msgs, "\n"))
	}
	return o, nil
}
