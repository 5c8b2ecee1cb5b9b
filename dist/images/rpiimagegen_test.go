package integrations

import (
	"os"
	"strings"
	"testing"
)

// layerHook is the customize hook of the rpi-image-gen layer: the block
// scalar under customize-hooks (the layer has one; a YAML library would be
// this module's first dependency for a one-line job).
func layerHook(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("rpi-image-gen/layer/ezedge-host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var hook []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(l) == "- |-":
			in = true
		case in && strings.HasPrefix(l, "      "):
			hook = append(hook, strings.TrimPrefix(l, "      "))
		case in:
			in = false
		}
	}
	if len(hook) == 0 {
		t.Fatal("no customize hook in the layer")
	}
	return strings.Join(hook, "\n")
}

// runLayerHook runs it as mmdebstrap runs a hook string given to it by
// bdebstrap (sh -c HOOK exec ROOT, with /proc, /sys and /dev mounted in the
// root), with the IGconf_ezedge_* variables rpi-image-gen exports from the
// config's ezedge: section.
func runLayerHook(t *testing.T, root, profile, platform string) (string, error) {
	t.Helper()
	mount(t, root, "proc", "sys", "dev")
	env := []string{
		"IGconf_ezedge_deb=" + deb(t),
		"IGconf_ezedge_provision=" + abs(t, "common/ezedge-provision"),
		"IGconf_ezedge_profile=" + profile,
		"IGconf_ezedge_platform=" + platform,
	}
	out, err := sh(t, "", env, "sh", "-c", layerHook(t), "exec", root)
	for _, p := range []string{"proc", "sys", "dev"} {
		sh(t, "", nil, "umount", "-R", root+"/"+p)
	}
	return out, err
}

func TestRpiImageGenLayer(t *testing.T) {
	r := root(t)
	out, err := runLayerHook(t, r, writeProfile(t, goodProfile), "amd64")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	provisioned(t, r, out)
}

func TestRpiImageGenLayerFails(t *testing.T) {
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runLayerHook(t, root(t), writeProfile(t, c.profile), c.platform)
			failed(t, out, err, c.name, c.want)
		})
	}
}
