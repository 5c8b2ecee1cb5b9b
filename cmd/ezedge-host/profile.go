package main

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

func profileCmd(g *globals) *cobra.Command {
	var fl command.ProfileFlags
	c := &cobra.Command{
		Use:   "profile",
		Short: "Show the profile every command plans with: its layers merged, each key with the file and line that set it",
		Long: "Show the profile plan, apply, check and the first boot plan with on --root: " + profile.DefaultPath + ",\n" +
			"then " + profile.DropInDir + "/*.yaml in lexical order, then each --profile FILE, a later layer\n" +
			"overriding an earlier one key by key. It is printed as one profile file, each key with a comment\n" +
			"naming the file and line that set it (--output json: the layers and settings). Changes nothing;\n" +
			"exits 1 when a layer is not a valid profile, naming every problem.",
		Example: `  ezedge-host profile                                   # the root's profile and profile.d, merged
  ezedge-host profile --profile site.yaml --profile pi5.yaml
  ezedge-host profile --root /mnt/image --output json   # an image's, with each key's provenance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := fl.Source()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				r, err := x.Profile(src)
				if err != nil {
					return err
				}
				if out == view.JSON {
					return view.WriteJSON(cmd.OutOrStdout(), view.NewProfileResult(x.Root.Dir(), r))
				}
				return view.ProfileText(cmd.OutOrStdout(), r)
			})
		},
	}
	fl.Add(c)
	return c
}
