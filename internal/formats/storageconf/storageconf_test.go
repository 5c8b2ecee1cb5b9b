package storageconf

import (
	"os"
	"strings"
	"testing"
)

var (
	native = Want{Driver: "overlay", Graphroot: "/var/lib/containers/storage"}
	fuse   = Want{Driver: "overlay", Graphroot: "/var/lib/containers/storage", MountProgram: "/usr/bin/fuse-overlayfs"}
)

func TestSetUpstream(t *testing.T) {
	in, err := os.ReadFile("testdata/upstream.conf")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Set(in, fuse)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(in), `driver = ""`, `driver = "overlay"`, 1)
	want = strings.Replace(want, "[storage.options.overlay]\n", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", 1)
	if string(out) != want {
		t.Fatalf("got\n%s", out)
	}
	again, err := Set(out, fuse)
	if err != nil || string(again) != string(out) {
		t.Fatalf("second edit: %v", err)
	}
	// Back to native: mount_program is commented out, nothing else moves.
	back, err := Set(out, native)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Replace(string(out), "\nmount_program", "\n#mount_program", 1) != string(back) {
		t.Fatalf("got\n%s", back)
	}
}

func TestSetCases(t *testing.T) {
	for _, c := range []struct {
		name, in string
		w        Want
		out, err string
	}{
		{"empty", "", fuse, "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", ""},
		{"comment only, no newline", "# x", native, "# x\n\n[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"header without newline", "[storage]", native, "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"crlf", "[storage]\r\ndriver = \"vfs\" # old\r\n", native, "[storage]\r\nrunroot = \"/run/containers/storage\"\r\ngraphroot = \"/var/lib/containers/storage\"\r\ndriver = \"overlay\" # old\r\n", ""},
		{"no trailing newline", "[storage]\ndriver = 'vfs'", native, "[storage]\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\ndriver = \"overlay\"", ""},
		{"quoted key", "[storage]\n\"driver\" = \"vfs\"\ngraphroot = \"/var/lib/containers/storage\"\n", native, "[storage]\nrunroot = \"/run/containers/storage\"\n\"driver\" = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"sub-table first", "[storage.options]\nsize = \"\"\n", native, "[storage.options]\nsize = \"\"\n\n[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"multi-line values elsewhere", "[storage]\nx = \"\"\"\n[storage.options.overlay]\nmount_program = 1\n\"\"\"\ny = [\n  \"a]\", # ]\n  { b = \"}\" },\n]\ndriver = \"overlay\"\nrunroot = \"/run\"\ngraphroot = \"/var/lib/containers/storage\"\n", native, "", ""},
		{"remove mount_program", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n[storage.options.overlay]\n  mount_program = \"/usr/bin/fuse-overlayfs\" # why\n", native, "[storage]\nrunroot = \"/run/containers/storage\"\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n[storage.options.overlay]\n#  mount_program = \"/usr/bin/fuse-overlayfs\" # why\n", ""},
		{"duplicate key", "[storage]\ndriver = \"a\"\ndriver = \"b\"\n", native, "", "line 3: not TOML"},
		{"duplicate table", "[storage]\n[storage]\n", native, "", "line 2: not TOML"},
		{"not toml", "[storage\n", native, "", "line 2: not TOML"},
		{"driver not a string", "[storage]\ndriver = 5\n", native, "", "not TOML"},
		{"dotted key", "storage.driver = \"vfs\"\n", native, "", "line 1: storage.driver is set as a dotted key"},
		{"dotted key in table", "[storage]\noptions.overlay.mount_program = \"/x\"\n", native, "", "line 2: storage.options.overlay.mount_program is set as a dotted key"},
		{"dotted table", "[storage]\noptions.overlay.mountopt = \"nodev\"\n", fuse, "", "line 2: storage.options.overlay is defined by dotted keys"},
		{"inline table", "[storage.options]\noverlay = { mountopt = \"nodev\" }\n", fuse, "", "line 2: storage.options.overlay is written as an inline value"},
		{"inline table holding the key", "[storage.options]\noverlay = { mount_program = \"/x\" }\n", native, "", "line 2: storage.options.overlay is written as an inline value"},
		{"multi-line string value", "[storage]\ndriver = \"\"\"\nvfs\"\"\"\n", native, "", "line 2: storage.driver is set as a dotted key or in an inline table"},
		{"escaped value", "[storage]\ndriver = \"vf\\u0073\"\n", native, "", "storage.driver is set as a dotted key or in an inline table"},
		{"old place", "[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", fuse, "", "line 2: mount_program is set in [storage.options]"},
		{"array table", "[[storage]]\n", native, "", "not TOML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Set([]byte(c.in), c.w)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want %q (one line); out %q", err, c.err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := c.out
			if want == "" {
				want = c.in
			}
			if string(out) != want {
				t.Fatalf("got  %q\nwant %q", out, want)
			}
			if again, err := Set(out, c.w); err != nil || string(again) != string(out) {
				t.Fatalf("second edit: %v %q", err, again)
			}
		})
	}
}

func TestParse(t *testing.T) {
	v, err := Parse([]byte("[storage]\ndriver = \"overlay\"\n[storage.options]\nmount_program = \"/old\"\n"))
	if err != nil || v != (Values{Driver: "overlay", MountProgram: "/old"}) {
		t.Fatalf("%+v %v", v, err)
	}
}

// Every key and table on the managed paths, written in another letter case
// (Unicode folding included), is refused with its line: Podman's decoder
// would read it as the managed key.
func TestCaseVariantsRefused(t *testing.T) {
	for _, c := range []struct{ in, err string }{
		{"[Storage]\ndriver = \"vfs\"\n", `line 1: "Storage" is read by Podman as storage`},
		{"[storage]\nDRIVER = \"12\"\n", `line 2: "storage.DRIVER" is read by Podman as storage.driver`},
		{"[storage]\ndriver = \"overlay\"\nDriver = \"12\"\n", `line 3: "storage.Driver"`},
		{"[storage]\nGraphRoot = \"/x\"\n", `line 2: "storage.GraphRoot"`},
		// runroot is added where the file sets none: a RunRoot beside it
		// would make which one Podman reads a matter of chance.
		{"[storage]\nRunRoot = \"/x\"\n", `line 2: "storage.RunRoot" is read by Podman as storage.runroot`},
		{"[storage.Options]\nx = 1\n", `line 1: "storage.Options"`},
		{"[storage.options.overlAy]\nmount_program = \"8A\"\n", `line 1: "storage.options.overlAy"`},
		{"[storage.options.overlay]\nMount_Program = \"x\"\n", `line 2: "storage.options.overlay.Mount_Program"`},
		{"[storage]\noptions.Overlay.x = 1\n", `line 2: "storage.options.Overlay"`},
		{"[\"ſtorage\"]\ndriver = \"vfs\"\n", `line 1: "ſtorage"`},
		{"[\"\\u0053torage\"]\ndriver = \"vfs\"\n", `"Storage" is read by Podman as storage`},
	} {
		if _, err := Parse([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Parse(%q) = %v, want %q", c.in, err, c.err)
		}
		if _, err := Set([]byte(c.in), native); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Set(%q) = %v, want %q", c.in, err, c.err)
		}
	}
	// Other keys keep their case and are not the package's business.
	for _, in := range []string{"[storage]\nRootless_Storage_Path = \"/x\"\n", "[Engine]\nx = 1\n", "[storage.options.thinpool]\nSize = \"1\"\n"} {
		if _, err := Set([]byte(in), native); err != nil {
			t.Errorf("Set(%q): %v", in, err)
		}
	}
}

// TestSetComplete: whatever Set starts from (nothing, comments, a table
// without the [storage] keys, CRLF, an empty runroot, sub-tables), what it
// leaves sets every Required key, as containers/storage
// needs of a file it reads alone; a runroot the file sets is kept, byte for
// byte; one Set cannot complete safely is refused, naming its line.
func TestSetComplete(t *testing.T) {
	rr := "runroot = \"" + DefaultRunRoot + "\""
	for _, c := range []struct {
		name, in, out, err string
	}{
		{"nothing", "", "[storage]\ndriver = \"overlay\"\n" + rr + "\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"comments", "# a\n# b\n", "# a\n# b\n\n[storage]\ndriver = \"overlay\"\n" + rr + "\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"other table only", "[storage.options.overlay]\nmountopt = \"nodev\"\n", "[storage.options.overlay]\nmountopt = \"nodev\"\n\n[storage]\ndriver = \"overlay\"\n" + rr + "\ngraphroot = \"/var/lib/containers/storage\"\n", ""},
		{"crlf", "[storage]\r\ndriver = \"overlay\"\r\ngraphroot = \"/var/lib/containers/storage\"\r\n", "[storage]\r\n" + rr + "\r\ndriver = \"overlay\"\r\ngraphroot = \"/var/lib/containers/storage\"\r\n", ""},
		{"empty runroot", "[storage]\nrunroot = \"\" # why\n", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\nrunroot = \"" + DefaultRunRoot + "\" # why\n", ""},
		{"empty literal runroot", "[storage]\nrunroot = ''\n", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\nrunroot = \"" + DefaultRunRoot + "\"\n", ""},
		{"own runroot kept", "[storage]\nrunroot = '/srv/run'  # fast disk\n", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\nrunroot = '/srv/run'  # fast disk\n", ""},
		{"runroot as a top-level dotted key", "storage.runroot = \"/srv/run\"\n[storage.options]\nx = 1\n", "", "line 1: storage is defined by dotted keys"},
		{"sub-tables after", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n[storage.x]\n[storage.options]\n", "[storage]\n" + rr + "\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n[storage.x]\n[storage.options]\n", ""},
		{"multi-line empty runroot", "[storage]\nrunroot = \"\"\"\n\"\"\"\n", "", "line 2: storage.runroot is set as a dotted key or in an inline table"},
		{"runroot not a string", "[storage]\nrunroot = 5\n", "", "not TOML ezedge-host can read"},
		{"storage inline", "storage = { runroot = \"\" }\n", "", "line 1: storage is written as an inline value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Set([]byte(c.in), native)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want %q (one line); out %q", err, c.err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.out {
				t.Fatalf("got  %q\nwant %q", out, c.out)
			}
			if l, err := Lacks(out); err != nil || len(l) > 0 {
				t.Fatalf("the result lacks %v (%v)", l, err)
			}
			if again, err := Set(out, native); err != nil || string(again) != string(out) {
				t.Fatalf("second edit: %v %q", err, again)
			}
		})
	}
	// Debian's own file (both releases set runroot) gains nothing.
	in, err := os.ReadFile("testdata/upstream.conf")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := Lacks(in); err != nil || len(l) > 0 {
		t.Fatalf("upstream.conf lacks %v (%v)", l, err)
	}
	if l, err := Lacks([]byte("[storage]\ndriver = \"overlay\"\n")); err != nil || strings.Join(l, ",") != "runroot,graphroot" {
		t.Fatalf("Lacks = %v, %v", l, err)
	}
}
