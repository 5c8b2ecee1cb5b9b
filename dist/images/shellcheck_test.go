package integrations

import (
	"path/filepath"
	"testing"
)

// Every script here is shellcheck-clean (sdm's plugin and pi-gen's stage
// scripts are bash, as those builders run them; the rest sh or bash by
// their #! line).
func TestShellcheck(t *testing.T) {
	need(t, "shellcheck")
	scripts := []string{"common/ezedge-provision", "mmdebstrap/ezedge-host-hook", "sdm/ezedge-host"}
	stage, _ := filepath.Glob("pi-gen/stage-ezedge/*.sh")
	sub, _ := filepath.Glob("pi-gen/stage-ezedge/00-ezedge/*.sh")
	scripts = append(append(scripts, stage...), sub...)
	must(t, "", nil, "shellcheck", append([]string{"-s", "bash"}, scripts...)...)
}
