package main

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command/man"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
)

// manCmd writes the man pages (make man, the Debian package).
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			date, err := man.SourceDate()
			if err != nil {
				return err
			}
			return man.Write(root, args[0], date, version)
		},
	}
}

// unitsCmd writes the systemd units the Debian package ships (disabled),
// from the same source as the ones ezedge-host writes itself, running the
// packaged binary.
func unitsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-units DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(_ *cobra.Command, args []string) error { return ops.WritePackagedUnits(args[0]) },
	}
}
