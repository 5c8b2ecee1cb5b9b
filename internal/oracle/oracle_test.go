package oracle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The oracle's own controls: each program, run as the oracle runs it, gives
// the answer systemd's documentation gives for a known input, and a
// rejected one where the input is wrong. A test comparing ezedge-host with
// an oracle that read nothing would otherwise pass.

func TestEscapePath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{"/tmp": "tmp.mount", "/tmp/": "tmp.mount", "//tmp/./": "tmp.mount", "/var/lib/x-y": `var-lib-x\x2dy.mount`, "/": "-.mount"} {
		if got, ok := EscapePath(t, p, ".mount"); !ok || got != want {
			t.Errorf("EscapePath(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
	if _, ok := EscapePath(t, "/a/../b", ".mount"); ok {
		t.Error(`systemd-escape --path accepted "/a/../b"`)
	}
}

func root(t *testing.T, files map[string]string) string {
	t.Helper()
	r := t.TempDir()
	for p, s := range files {
		full := filepath.Join(r, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "run"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestFstabUnits(t *testing.T) {
	t.Parallel()
	r := root(t, map[string]string{"etc/fstab": "/dev/sdb1 //tmp/ ext4 noatime 0 2\n"})
	units, log := FstabUnits(t, r)
	u, ok := units["tmp.mount"]
	if !ok || !strings.Contains(u, "What=/dev/sdb1") || !strings.Contains(u, "Options=noatime") {
		t.Fatalf("no tmp.mount for //tmp/ with its device and options: %v\n%s", units, log)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	good := root(t, map[string]string{"etc/systemd/system/x.service": "[Service]\nType=oneshot\nExecStart=/bin/true\n"})
	if l := Verify(t, good, "x.service"); l.State != "loaded" || l.Fragment != "/etc/systemd/system/x.service" {
		t.Errorf("a good unit: %+v", l)
	}
	bad := root(t, map[string]string{"etc/systemd/system/x.service": "[Service]\nType=oneshot\nNoSuchKey=1\nExecStart=/bin/true\n"})
	if l := Verify(t, bad, "x.service"); !strings.Contains(l.Log, "NoSuchKey") {
		t.Errorf("an unknown key is not in systemd-analyze's log: %+v", l)
	}
}

func TestSysctlKeys(t *testing.T) {
	t.Parallel()
	keys := SysctlKeys(t, "ezedgetest.a.b = 1\nezedgetest/c.d = 2\n")
	if keys["1"] != "ezedgetest/a/b" || keys["2"] != "ezedgetest/c.d" {
		t.Errorf("systemd-sysctl's paths: %v", keys)
	}
}

func TestTmpfilesCreate(t *testing.T) {
	t.Parallel()
	r := root(t, nil)
	TmpfilesCreate(t, r, "d /made 0750 - - -\n")
	if st, err := os.Stat(filepath.Join(r, "made")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("systemd-tmpfiles --root did not make /made 0750 inside the root: %v", err)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := quote("it's"); got != `'it'\''s'` {
		t.Errorf("quote: %s", got)
	}
}
