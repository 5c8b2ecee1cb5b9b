package tasks

import (
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

func init() {
	Register(Def[struct{}]{
		Name: "bluetooth", Order: 90,
		Summary: "stop and disable bluetooth.service (its dbus-org.bluez.service alias goes with it)",
		When:    "on Raspberry Pi when installed; opt-in elsewhere",
		Observe: platform.Observe{Units: []string{"bluetooth.service"}},
		Default: onPi,
		Plan: func(f *Facts, _ *struct{}) Intent {
			u := f.Units["bluetooth.service"]
			switch {
			case !u.Installed:
				return Skip("bluetooth.service is not installed")
			case u.Problem != "":
				return Skip(u.Problem)
			}
			return Intent{Wants: []Want{{Resource: resource.Unit("bluetooth.service"), Edit: resource.UnitDisabled}}}
		},
	})
}
