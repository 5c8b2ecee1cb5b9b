package main

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

func profileCmd(g *globals) *cobra.Command {
	var fl command.ProfileFlags
	c := &cobra.Command{
		Use:  "profile",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := fl.Source()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error { return v.Profile(x.Profile(src)) })
		},
	}
	fl.Add(c)
	return c
}
