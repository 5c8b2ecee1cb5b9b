package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// sections reads back what Build composes: each task's lines, comments and
// blank lines inside a part included; a file ezedge-host did not write has
// no parts.
func TestSections(t *testing.T) {
	t.Parallel()
	parts := map[string][]string{
		"swappiness":  {"vm.swappiness = 10"},
		"net-buffers": {"# a comment", "net.core.rmem_max = 1", "", "# thp", "x = 1"},
		"hugepages":   {"vm.nr_hugepages = 1024"},
	}
	var b strings.Builder
	b.WriteString(tasks.Header)
	for _, n := range []string{"swappiness", "net-buffers", "hugepages"} {
		b.WriteString("\n# " + n + "\n")
		for _, l := range parts[n] {
			b.WriteString(l + "\n")
		}
	}
	got := sections([]byte(b.String()))
	// "\n# thp" inside net-buffers' part looks like a header: a part may
	// not hold a blank line followed by "# TASK" (no task writes one).
	want := map[string][]string{
		"swappiness":  parts["swappiness"],
		"net-buffers": {"# a comment", "net.core.rmem_max = 1"},
		"thp":         {"x = 1"},
		"hugepages":   parts["hugepages"],
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, other := range []string{"", "vm.swappiness = 10\n", "# Written by someone\n\n# swappiness\nx\n"} {
		if s := sections([]byte(other)); len(s) != 0 {
			t.Errorf("%q: %q", other, s)
		}
	}
}
