package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// rebootJSON is the reboot_required of a command's JSON.
type rebootJSON struct {
	Reboot *struct {
		Reasons []struct{ Task, Kind, Resource string }
	} `json:"reboot_required"`
}

// TestRebootRequiredSaid: apply's, rollback's and confirm's last lines say
// "Reboot required:" with each kernel argument changed, where the plan
// marked them; their JSON carries reboot_required with the same reasons;
// an apply that needs none says nothing of it (null in JSON). A fixture is
// not the running system: nothing is written in its /run.
func TestRebootRequiredSaid(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	plan := cli("plan", "--root", root).must(t, 0).stdout
	var args []string
	for l := range strings.Lines(plan) {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "+" && f[1] == "kernel-arg" {
			args = append(args, f[2])
		}
	}
	if len(args) == 0 {
		t.Fatalf("the plan changes no kernel argument:\n%s", plan)
	}
	said := func(what, out string) {
		t.Helper()
		i := strings.LastIndex(out, "Reboot required: ")
		if i < 0 {
			t.Fatalf("%s does not say a reboot is required:\n%s", what, out)
		}
		tail := out[i:]
		if n := strings.Count(tail, "\n"); n != len(args)+1 {
			t.Errorf("%s: not the last lines, or not one per argument:\n%s", what, tail)
		}
		for _, a := range args {
			if !strings.Contains(tail, "  kernel-arg "+a+" (") {
				t.Errorf("%s does not name %s:\n%s", what, a, tail)
			}
		}
	}
	said("apply", cli("apply", "--root", root, "--yes").must(t, 0).stdout)
	if out := cli("apply", "--root", root, "--yes").must(t, 0).stdout; strings.Contains(out, "Reboot required") {
		t.Errorf("an apply with nothing to do:\n%s", out)
	}
	said("rollback", cli("rollback", "--root", root, "--yes").must(t, 0).stdout)

	var j rebootJSON
	if err := json.Unmarshal([]byte(cli("apply", "--root", root, "--yes", "-o", "json").must(t, 0).stdout), &j); err != nil || j.Reboot == nil || len(j.Reboot.Reasons) != len(args) {
		t.Fatalf("apply JSON: %+v %v", j.Reboot, err)
	}
	if err := json.Unmarshal([]byte(cli("apply", "--root", root, "--yes", "-o", "json").must(t, 0).stdout), &j); err != nil || j.Reboot != nil {
		t.Errorf("apply JSON, nothing to do: %+v %v", j.Reboot, err)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)

	// A try apply confirmed: the confirmed apply's kernel arguments.
	if _, code, out := runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2m"); code != 0 {
		t.Fatal(out)
	}
	c := cli("confirm", "--root", root).must(t, 0).stdout
	if !strings.HasPrefix(c, "Confirmed apply ") {
		t.Errorf("confirm:\n%s", c)
	}
	said("confirm", c)
	if _, err := os.Lstat(filepath.Join(root, "run")); !os.IsNotExist(err) {
		t.Errorf("a fixture's /run written: %v", err)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if _, code, out := runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2m"); code != 0 {
		t.Fatal(out)
	}
	var cj struct {
		rebootJSON
		FormatVersion int      `json:"format_version"`
		Confirmed     []string `json:"confirmed"`
	}
	if err := json.Unmarshal([]byte(cli("confirm", "--root", root, "-o", "json").must(t, 0).stdout), &cj); err != nil || cj.FormatVersion != 1 || len(cj.Confirmed) != 1 || cj.Reboot == nil || len(cj.Reboot.Reasons) != len(args) {
		t.Errorf("confirm JSON: %+v %v", cj, err)
	}
}
