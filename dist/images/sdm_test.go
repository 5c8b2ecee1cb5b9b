package integrations

import (
	"os"
	"path/filepath"
	"testing"
)

// sdmReadparams stands in for sdm's /etc/sdm/sdm-readparams, which a plugin
// sources for sdm's helpers: only the three the plugin calls, written here
// from sdm-cparse's documented behaviour (key=value|key=value arguments, an
// unknown or missing required key fails), not sdm's code.
const sdmReadparams = `
logtoboth() { echo "$*"; }
plugin_printkeys() { :; }
plugin_getargs() {
	local pfx=$1 args=$2 valid=$3 required=$4 kv key found="|" k
	local -a list
	IFS="|" read -r -a list <<<"$args"
	for kv in "${list[@]}"; do
		[ -n "$kv" ] || continue
		key=${kv%%=*}
		if [ -n "$valid" ] && [[ $valid != *"|$key|"* ]]; then
			echo "? Plugin $pfx: Unrecognized key '$key'"; return 1
		fi
		printf -v "$key" "%s" "${kv#*=}"
		found="$found$key|"
	done
	IFS="|" read -r -a list <<<"${required#|}"
	for k in "${list[@]}"; do
		if [[ $found != *"|$k|"* ]]; then
			echo "? Plugin $pfx: Required key '$k' missing"; return 1
		fi
	done
}
`

// runSdm runs the plugin's three phases as sdm does: phase 0 on the host
// with the image at SDMPT, then phase 1 and post-install inside the image
// with SDMPT empty (sdm uses systemd-nspawn; a chroot into a bind mount of
// the root, with the host's /proc and /sys mounted, stands in here: the same
// kernel shows through).
func runSdm(t *testing.T, root, profile, platform string) (string, error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "etc/sdm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/sdm/sdm-readparams"), []byte(sdmReadparams), 0o644); err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(root, "usr/local/sdm/local-plugins")
	must(t, "", nil, "install", "-D", "-m", "0755", "sdm/ezedge-host", filepath.Join(plugins, "ezedge-host"))
	args := "deb=" + deb(t) + "|provision=" + abs(t, "common/ezedge-provision") +
		"|profile=" + profile + "|platform=" + platform
	log, err := sh(t, "", []string{"SDMPT=" + root}, filepath.Join(plugins, "ezedge-host"), "0", args)
	if err != nil {
		return log, err
	}
	// nspawn runs the image on a mount of its own (its / is a mount
	// point, which a private mount namespace needs): the root bound onto
	// itself, the kernel's file systems on top.
	must(t, "", nil, "mount", "--bind", root, root)
	mount(t, root, "proc", "sys", "dev", "run")
	defer func() {
		for _, p := range []string{"proc", "sys", "dev", "run"} {
			sh(t, "", nil, "umount", "-R", filepath.Join(root, p))
		}
		sh(t, "", nil, "umount", root)
	}()
	for _, phase := range []string{"1", "post-install"} {
		out, err := sh(t, "", []string{"SDMPT="}, "chroot", root, "/usr/local/sdm/local-plugins/ezedge-host", phase, args)
		if log += out; err != nil {
			return log, err
		}
	}
	return log, nil
}

func TestSdmPlugin(t *testing.T) {
	r := root(t)
	log, err := runSdm(t, r, writeProfile(t, goodProfile), "amd64")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	provisioned(t, r, log)
}

func TestSdmPluginFails(t *testing.T) {
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runSdm(t, root(t), writeProfile(t, c.profile), c.platform)
			failed(t, out, err, c.name, c.want)
		})
	}
}
