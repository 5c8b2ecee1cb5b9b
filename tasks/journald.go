package tasks

import (
	"fmt"
	"path"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// JournaldOptions are journald's profile options.
type JournaldOptions struct {
	Mode          string `yaml:"mode" enum:"volatile,capped" doc:"volatile: the journal in RAM only, lost at reboot; capped: on disk, bounded"`
	RuntimeMaxMiB int    `yaml:"runtime_max_mib" min:"8" max:"4096" doc:"volatile: RAM the journal may take, in MiB (RuntimeMaxUse=)"`
	SystemMaxMiB  int    `yaml:"system_max_mib" min:"16" max:"65536" doc:"capped: disk the journal may take, in MiB (SystemMaxUse=)"`
}

// JournaldDropIn is the journald.conf drop-in journald writes; 90- sorts it
// after the distributions' own (Raspberry Pi OS's 40-rpi-*).
const JournaldDropIn = "/etc/systemd/journald.conf.d/90-ezedge-host.conf"

func init() {
	resource.Own(JournaldDropIn, 64<<10)
	Register(Def[JournaldOptions]{
		Name: "journald", Order: 130,
		Measures: []measure.Kind{measure.Sync},
		Summary:  "keep the systemd journal in RAM (Storage=volatile), or cap it on disk (from the next boot)",
		When:     "on when the root is on an SD card; opt-in elsewhere",
		Default:  onSDRoot("a volatile journal loses the logs of past boots to spare the root disk writes"),
		// 64 MiB keeps days of an edge host's logs in RAM; journald's own
		// cap (10 % of /run, itself half of RAM) would be 400 MiB on an
		// 8 GiB board. 256 MiB on disk bounds wear where logs must
		// outlive a reboot.
		Options: JournaldOptions{Mode: "volatile", RuntimeMaxMiB: 64, SystemMaxMiB: 256},
		// A volatile journal lives in /run, a tmpfs: RAM up to its cap.
		Reserves: func(_ *Facts, o *JournaldOptions) *alloc.Reserve {
			if o.Mode != "volatile" {
				return nil
			}
			return &alloc.Reserve{What: "volatile journal", Size: alloc.Bytes(o.RuntimeMaxMiB) * alloc.MiB,
				Why: fmt.Sprintf("the journald task keeps the journal in RAM, RuntimeMaxUse=%dM", o.RuntimeMaxMiB)}
		},
		Plan: func(f *Facts, o *JournaldOptions) Intent {
			// The drop-in is read by systemd-journald when its unit runs:
			// a masked or broken unit reads none.
			switch u := f.Writes.JournaldUnit; {
			case u.Masked != "":
				return Skip("systemd-journald.service is masked (" + u.Masked + "): no systemd-journald runs to read " + JournaldDropIn)
			case u.Problem != "":
				return Skip(u.Problem + ": no systemd-journald runs to read " + JournaldDropIn)
			}
			set := [][2]string{{"Storage", "volatile"}, {"RuntimeMaxUse", fmt.Sprintf("%dM", o.RuntimeMaxMiB)}}
			if o.Mode == "capped" {
				// Storage= stays the distribution's (auto: on disk where
				// /var/log/journal exists): setting persistent would make
				// the directory, and the writes, where there were none.
				set = [][2]string{{"SystemMaxUse", fmt.Sprintf("%dM", o.SystemMaxMiB)}}
			}
			body := Header + "[Journal]\n"
			for _, kv := range set {
				body += kv[0] + "=" + kv[1] + "\n"
			}
			in := Intent{Wants: []Want{{
				Resource: resource.File(JournaldDropIn), Desired: resource.Content([]byte(body)), Reboot: true,
				// Restarting journald on apply (and on rollback) would
				// cut the logging of every service for a moment and, in
				// volatile mode, leave the journal of this boot split;
				// the next boot reads the drop-in anyway.
				Notes: []string{"systemd-journald reads it when it starts: the next boot, or `systemctl restart systemd-journald`"},
			}}}
			in.Warnings, in.Notes = journaldOverrides(f, set)
			return in
		},
	})
}

// journaldOverrides says which settings of the keys we set win over ours
// (warnings: a drop-in read after ours) and which ours wins over (notes:
// journald.conf itself and drop-ins read before ours, when they disagree).
func journaldOverrides(f *Facts, set [][2]string) (warnings, notes []string) {
	ours := path.Base(JournaldDropIn)
	want := map[string]string{}
	for _, kv := range set {
		want[kv[0]] = kv[1]
	}
	for _, s := range f.Writes.Journald {
		v, ok := want[s.Key]
		switch {
		case !ok || s.File == JournaldDropIn:
		case s.DropIn && path.Base(s.File) > ours:
			warnings = append(warnings, fmt.Sprintf("%s line %d sets %s=%s and is read after %s: it wins over %s=%s", s.File, s.Line, s.Key, s.Value, JournaldDropIn, s.Key, v))
		case s.Value != v:
			notes = append(notes, fmt.Sprintf("%s line %d sets %s=%s; %s is read after it and wins", s.File, s.Line, s.Key, s.Value, JournaldDropIn))
		}
	}
	return warnings, notes
}
