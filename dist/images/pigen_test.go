package integrations

import (
	"os"
	"path/filepath"
	"testing"
)

// piGenStage copies stage-ezedge as a pi-gen user would into their pi-gen
// tree (cp -rL: the shared step is a link in git), with the package and
// profile in files/, and the platform this amd64 root is.
func piGenStage(t *testing.T, profile, platform string) string {
	t.Helper()
	stage := filepath.Join(t.TempDir(), "stage-ezedge")
	must(t, "", nil, "cp", "-rL", "pi-gen/stage-ezedge", stage)
	files := filepath.Join(stage, "00-ezedge/files")
	must(t, "", nil, "cp", deb(t), files)
	if err := os.WriteFile(filepath.Join(files, "profile.yaml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "EZEDGE_PLATFORM=" + platform + "\nEZEDGE_MODE=firstboot\n"
	if err := os.WriteFile(filepath.Join(files, "ezedge.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return stage
}

// runPiGenStage does what pi-gen's run_stage and run_sub_stage do for this
// stage: prerun.sh in the stage directory, then in the sub-stage directory
// 00-run.sh on the host, 00-run-chroot.sh through on_chroot (mounts, then
// bash -e reading the script in the chroot), 01-run.sh on the host with
// on_chroot's mounts still there. The first failure stops it, as it stops
// pi-gen (its scripts run under bash -e).
func runPiGenStage(t *testing.T, stage, rootfs string) (string, error) {
	t.Helper()
	env := []string{"ROOTFS_DIR=" + rootfs}
	sub := filepath.Join(stage, "00-ezedge")
	log, err := sh(t, stage, env, "./prerun.sh")
	if err != nil {
		return log, err
	}
	out, err := sh(t, sub, env, "./00-run.sh")
	if log += out; err != nil {
		return log, err
	}
	mount(t, rootfs, "proc", "dev", "sys", "run", "tmp")
	out, err = sh(t, sub, env, "sh", "-c", `chroot "$ROOTFS_DIR" bash -e < 00-run-chroot.sh`)
	if log += out; err != nil {
		return log, err
	}
	out, err = sh(t, sub, env, "./01-run.sh")
	return log + out, err
}

func TestPiGenStage(t *testing.T) {
	rootfs := root(t)
	log, err := runPiGenStage(t, piGenStage(t, goodProfile, "amd64"), rootfs)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, p := range []string{"proc", "dev", "sys", "run", "tmp"} {
		run(t, "umount", "-R", filepath.Join(rootfs, p))
	}
	if _, err := os.Stat(filepath.Join(rootfs, "var/cache/ezedge-host")); err == nil {
		t.Errorf("the stage left its files in the image")
	}
	provisioned(t, rootfs, log)
}

func run(t *testing.T, name string, args ...string) { must(t, "", nil, name, args...) }

func TestPiGenStageFails(t *testing.T) {
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runPiGenStage(t, piGenStage(t, c.profile, c.platform), root(t))
			failed(t, out, err, c.name, c.want)
		})
	}
}
