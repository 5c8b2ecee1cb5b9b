package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command/man"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
)

// manCmd writes the man pages (make man, the Debian package).
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write man pages for every command into DIR, dated SOURCE_DATE_EPOCH",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			date, err := man.SourceDate()
			if err != nil {
				return err
			}
			return man.Write(root, args[0], date, man.Source{Version: version, About: rootAbout})
		},
	}
}

// unitsCmd writes the systemd units the Debian package ships (disabled),
// from the same source as the ones ezedge-host writes itself, running the
// packaged binary.
func unitsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-units DIR",
		Short:  "Write the units the Debian package ships into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			for name, text := range ops.PackagedUnits() {
				if err := os.WriteFile(filepath.Join(args[0], name), []byte(text), 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
