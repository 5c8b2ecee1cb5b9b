package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// firstbootFlags are firstboot install's flags.
type firstbootFlags struct {
	profile     string
	binary      string
	lockTimeout time.Duration
}

func firstbootCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "firstboot", Short: "Provision an image on its first boot",
		Example: `  sudo ezedge-host firstboot install --root /mnt/img --profile site.yaml
  ezedge-host firstboot status`}
	var fl firstbootFlags
	install := &cobra.Command{
		Use:   "install",
		Short: "Make the image at --root apply its profile once, on its first boot",
		Example: `  sudo ezedge-host firstboot install --root /mnt/img --profile site.yaml
  sudo ezedge-host firstboot install --root /mnt/img --platform rpi5 --binary ./ezedge-host-arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := profile.FromInstallFlag(fl.profile, cmd.Flags().Changed("profile"))
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, _ view.Format) error {
				// The first boot applies the image's own profile. --profile
				// FILE becomes its profile.yaml, under the image's
				// profile.d; without, the image's own is checked now, so
				// that a build does not ship a first boot that fails.
				prof, err := x.Profile(src)
				if err != nil {
					return err
				}
				res, err := x.FirstbootInstall(ops.FirstbootRequest{Profile: prof, LockTimeout: fl.lockTimeout, ReadBinary: fl.readBinary})
				if err != nil {
					return err
				}
				view.FirstbootInstallText(cmd.OutOrStdout(), res, prof.Origin, g.root)
				return nil
			})
		},
	}
	install.Flags().StringVar(&fl.profile, "profile", "", "profile `FILE` on this machine, put in the image as "+profile.DefaultPath+" for its first boot, under its "+profile.DropInDir+" (default: the image's own)")
	install.Flags().StringVar(&fl.binary, "binary", "", "ezedge-host `FILE` to copy into an image without the Debian package (default: this binary; it must match the image's architecture)")
	install.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host")

	run := &cobra.Command{
		Use:    "run",
		Short:  "What the first-boot unit runs: apply the image's profile, record the outcome",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The image's own profile, as every command reads it: a bad
			// one fails the first boot (recorded), never the defaults
			// instead.
			return g.on(nil, func(x *ops.Host, _ view.Format) error {
				o, err := x.FirstbootRun()
				escape.Fprintf(cmd.OutOrStdout(), "ezedge-host first boot: %d changes, snapshot %q\n", o.Changes, o.SnapshotID)
				return err
			})
		},
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Whether first-boot provisioning ran, and what it changed",
		Example: `  ezedge-host firstboot status
  ezedge-host firstboot status --root /mnt/img --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				s, err := firstboot.Read(x.Root)
				if err != nil {
					return err
				}
				return view.Show(cmd.OutOrStdout(), out, view.NewFirstbootStatus(s), func() { view.FirstbootText(cmd.OutOrStdout(), s) })
			})
		},
	}
	c.AddCommand(install, run, status)
	return c
}

// readBinary reads the binary firstboot install copies into an image
// without the Debian package: --binary FILE (built for the image's
// architecture), else this one; a file the operator names.
func (fl *firstbootFlags) readBinary() (string, []byte, error) {
	src := fl.binary
	if src == "" {
		var err error
		if src, err = os.Executable(); err != nil {
			return "", nil, err
		}
	}
	b, err := hostroot.ReadNamed(src, firstboot.BinaryFile)
	return src, b, err
}
