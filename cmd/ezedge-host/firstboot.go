package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

type firstbootFlags struct {
	profile, binary string
	lockTimeout     time.Duration
}

func firstbootCmd(g *globals) *cobra.Command {
	var fl firstbootFlags
	install := &cobra.Command{Use: "install", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := profile.FromInstallFlag(fl.profile, cmd.Flags().Changed("profile"))
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				// The first boot applies the image's own profile. --profile
				// FILE becomes its profile.yaml, under the image's
				// profile.d; without, the image's own is checked now, so
				// that a build does not ship a first boot that fails.
				prof, err := x.Profile(src)
				if err != nil {
					return err
				}
				res, err := x.FirstbootInstall(ops.FirstbootRequest{Profile: prof, LockTimeout: fl.lockTimeout, ReadBinary: ops.ReadBinary(fl.binary)})
				return v.FirstbootInstalled(res, prof.Origin, g.root, err)
			})
		},
	}
	install.Flags().StringVar(&fl.profile, "profile", "", "profile `FILE` on this machine, put in the image as "+profile.DefaultPath+" for its first boot, under its "+profile.DropInDir+" (default: the image's own)")
	install.Flags().StringVar(&fl.binary, "binary", "", "ezedge-host `FILE` to copy into an image without the Debian package (default: this binary; it must match the image's architecture)")
	install.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host")
	// The image's own profile, as every command reads it: a bad one fails
	// the first boot (recorded), never the defaults instead.
	run := &cobra.Command{Use: "run", Hidden: true, Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error {
			r, err := x.FirstbootRun()
			v.FirstbootRan(r)
			return err
		}),
	}
	status := &cobra.Command{Use: "status", Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.FirstbootStatus(x.FirstbootStatus()) }),
	}
	c := &cobra.Command{Use: "firstboot"}
	c.AddCommand(install, run, status)
	return c
}
