package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func firstbootCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "firstboot", Short: "Provision an image on its first boot"}
	var binFile string
	install := &cobra.Command{
		Use:   "install",
		Short: "Make the image at --root apply its profile once, on its first boot",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if g.src, err = g.profileSource(cmd); err != nil {
				return err
			}
			h, f, err := g.open()
			if err != nil {
				return err
			}
			defer h.Close()
			if h.IsSystemRoot() {
				return fmt.Errorf("firstboot install is for an image root: give --root DIR")
			}
			// The first boot applies the image's own profile. --profile
			// FILE becomes it; without, the one the image has is checked
			// now, so that a build does not ship a first boot that fails.
			if err := g.resolveProfile(h); err != nil {
				return err
			}
			var profData []byte
			if g.prof.Origin.Kind == profile.KindFile {
				profData = g.prof.Data
			}
			// An image with the Debian package runs its own binary;
			// otherwise this one (or --binary, built for the image's
			// architecture) is copied, refused if it cannot run there.
			var bin []byte
			if !h.Exists(platform.PackagedBinary) {
				src := binFile
				if src == "" {
					if src, err = os.Executable(); err != nil {
						return err
					}
				}
				if bin, err = hostroot.ReadNamed(src, firstboot.BinaryFile); err != nil {
					return err
				}
				if err := firstboot.CheckArch(src, bin, f); err != nil {
					return fmt.Errorf("firstboot install: %v", err)
				}
			}
			store := rollback.Open(h)
			unlock, _, err := g.lockHost(h, store, "ezedge-host firstboot install")
			if err != nil {
				return err
			}
			defer unlock()
			w := cmd.OutOrStdout()
			var ids []string
			for _, step := range []func() (*plan.Plan, error){
				func() (*plan.Plan, error) { return firstboot.InstallPlan(h, f, bin, profData) },
				func() (*plan.Plan, error) { return firstboot.Enable(h, f) },
			} {
				p, err := step()
				if err != nil {
					return err
				}
				res, err := apply.Apply(h, store, p, time.Now())
				if err != nil {
					return fmt.Errorf("firstboot install failed: %w", err)
				}
				if res.ID != "" {
					ids = append(ids, res.ID)
				}
				for _, c := range res.Changed {
					escape.Fprintf(w, "  %s %s\n", c.Action, view.Describe(c.Resource))
				}
			}
			if len(ids) == 0 {
				escape.Fprintf(w, "First-boot provisioning is already installed.\n")
				return nil
			}
			escape.Fprintf(w, "Installed: %s applies the image's %s once, on the first boot of this image (platform %s).\n", firstboot.UnitName, profile.DefaultPath, f.Platform)
			escape.Fprintf(w, "Profile: %s\n", g.prof.Origin)
			escape.Fprintf(w, "Undo with: ezedge-host rollback --root %s --to %s\n", g.root, ids[0])
			return nil
		},
	}
	install.Flags().StringVar(&g.profile, "profile", "", "profile `FILE` on this machine, put in the image as "+profile.DefaultPath+" for its first boot (default: the image's own)")
	install.Flags().StringVar(&binFile, "binary", "", "ezedge-host `FILE` to copy into an image without the Debian package (default: this binary; it must match the image's architecture)")
	install.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "wait this long for another ezedge-host")

	run := &cobra.Command{
		Use:    "run",
		Short:  "What the first-boot unit runs: apply the image's profile, record the outcome",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, f, err := g.open()
			if err != nil {
				return err
			}
			defer h.Close()
			// The image's own profile, as every command reads it: a bad
			// one fails the first boot (recorded), never the defaults
			// instead.
			prof, err := profile.Default().Resolve(h)
			o := firstboot.Report{FormatVersion: firstboot.ReportVersion, RanAt: time.Now().UTC()}
			var res *apply.Applied
			if err == nil {
				res, err = applyOnce(h, f, prof.Choices, g)
			}
			if res != nil {
				o.SnapshotID, o.Changes = res.ID, len(res.Changed)
			}
			if err != nil {
				o.Error = err.Error()
			}
			if rerr := firstboot.Write(h, o); rerr != nil && err == nil {
				err = rerr
			}
			escape.Fprintf(cmd.OutOrStdout(), "ezedge-host first boot: %d changes, snapshot %q\n", o.Changes, o.SnapshotID)
			return err
		},
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Whether first-boot provisioning ran, and what it changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			s, err := firstboot.Read(h)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.output == "json" {
				return view.WriteJSON(w, view.NewFirstbootStatus(s))
			}
			view.FirstbootText(w, s)
			return nil
		},
	}
	c.AddCommand(install, run, status)
	return c
}

// applyOnce plans and applies under the lock, as apply --yes does.
func applyOnce(h *hostroot.Root, f *platform.Facts, choices tasks.Choices, g *globals) (*apply.Applied, error) {
	store := rollback.Open(h)
	unlock, _, err := g.lockHost(h, store, "ezedge-host firstboot run")
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := plan.Build(h, store, f, choices)
	if err != nil {
		return nil, err
	}
	return apply.Apply(h, store, p, time.Now())
}
