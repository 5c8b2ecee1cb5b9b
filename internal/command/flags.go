package command

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
)

// TerraformOut accepts Terraform's spelling `-out FILE` / `-out=FILE` for
// --out: pflag would read "-out" as -o "ut" and fail on the file name.
func TerraformOut(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "-out" || strings.HasPrefix(a, "-out=") {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// Time is an RFC 3339 time flag's value, the zero time when not given.
func Time(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

// ProfileFlags are --profile FILE (repeatable) and --no-profile.
type ProfileFlags struct {
	files []string
	none  bool
}

// Add gives c --profile and --no-profile. (firstboot install has its own
// --profile, and no --no-profile: the image's first boot plans with the
// image's profile.)
func (p *ProfileFlags) Add(c *cobra.Command) {
	c.Flags().StringArrayVar(&p.files, "profile", nil, "profile `FILE` (YAML) on this machine, layered over the root's "+profile.DefaultPath+" and "+profile.DropInDir+"/*.yaml (repeatable, later wins)")
	c.Flags().BoolVar(&p.none, "no-profile", false, "plan with the platform defaults, not the root's "+profile.DefaultPath+" and "+profile.DropInDir)
}

// Source is where the command takes its profile from (profile.FromFlags):
// the flags' values say it all (an empty --profile is one).
func (p *ProfileFlags) Source() (profile.Source, error) {
	return profile.FromFlags(p.files, p.none)
}

// MeasureFlags are the options of every command that measures: --measure
// itself where measuring is optional, then what and how long.
type MeasureFlags struct {
	on      bool
	budget  time.Duration
	http    []string
	dataDir string
	busy    bool
	cmd     *cobra.Command
}

// Add gives c the measuring flags; with on set, --measure says what it
// measures (apply, rollback), else measuring is what c does (baseline).
func (m *MeasureFlags) Add(c *cobra.Command, budget time.Duration, what, on string) {
	m.cmd = c
	if on != "" {
		c.Flags().BoolVar(&m.on, "measure", false, "measure "+on)
	}
	c.Flags().DurationVar(&m.budget, "budget", budget, "let the measurements take up to `D` "+what+" (1s to 10m)")
	c.Flags().StringArrayVar(&m.http, "http", nil, "also measure a capability `[health|simple|complex=]URL` alone and at 10 concurrent requests, against the guide's range for its class (repeatable)")
	c.Flags().StringVar(&m.dataDir, "data-dir", "", "`DIR` on the data filesystem for the synchronous-write test (default: Podman's storage, else /var/lib/ezedge-host)")
	c.Flags().BoolVar(&m.busy, "busy", false, "measure even when the host is under heavy load (load average at or above its core count)")
}

// Probe gives c check's brief probe's flags: --measure, its budget, and
// --busy (no --http: the probe measures the host alone).
func (m *MeasureFlags) Probe(c *cobra.Command) {
	m.cmd = c
	c.Flags().BoolVar(&m.on, "measure", false, "also measure CPU, memory and disk reads briefly and compare them with the newest baseline")
	c.Flags().DurationVar(&m.budget, "budget", 5*time.Second, "time --measure may take (1s to 10m)")
	c.Flags().BoolVar(&m.busy, "busy", false, "--measure even when the host is under heavy load")
}

// ProbeRequest is the probe check's --measure asks for, or nil (its
// budget and --busy given alone are taken, not refused, as check always
// has).
func (m *MeasureFlags) ProbeRequest() *ops.Measure {
	if !m.on {
		return nil
	}
	o, _ := m.Options() // no --http on a probe: nothing to parse
	return &o
}

// Options are the measurement the flags ask for.
func (m *MeasureFlags) Options() (ops.Measure, error) {
	o := ops.Measure{Budget: m.budget, DataDir: m.dataDir, Busy: m.busy}
	for _, s := range m.http {
		e, err := measure.ParseEndpoint(s)
		if err != nil {
			return o, err
		}
		o.HTTP = append(o.HTTP, e)
	}
	return o, nil
}

// Request is the measurement --measure asks for, or nil; a measuring flag
// given without --measure is refused rather than silently ignored.
func (m *MeasureFlags) Request() (*ops.Measure, error) {
	if !m.on {
		for _, n := range []string{"budget", "http", "data-dir", "busy"} {
			if m.cmd.Flags().Changed(n) {
				return nil, fmt.Errorf("--%s: only with --measure", n)
			}
		}
		return nil, nil
	}
	o, err := m.Options()
	return &o, err
}

// fixedBy marks a flag that an argument makes meaningless (a saved plan
// fixes apply's profile and tasks); its value says why.
const fixedBy = "ezedge-host.refused-with-plan-file"

// FixedByArg marks c's flags names as fixed by c's argument, for why.
func FixedByArg(c *cobra.Command, why string, names ...string) {
	for _, n := range names {
		if err := c.Flags().SetAnnotation(n, fixedBy, []string{why}); err != nil {
			panic(err) // a flag renamed without its mark
		}
	}
}

// RefuseFixed refuses, one line each, the flags given to cmd that its
// argument makes meaningless (FixedByArg): apply PLANFILE would otherwise
// apply the plan and silently ignore them.
func RefuseFixed(cmd *cobra.Command) error {
	var errs []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if why := f.Annotations[fixedBy]; len(why) > 0 {
			errs = append(errs, fmt.Sprintf("--%s: %s", f.Name, why[0]))
		}
	})
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
