package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var (
	applyID  = regexp.MustCompile(`[0-9]{8}T[0-9]{6}Z(-[0-9]+)?`)
	rfc3339  = regexp.MustCompile(`"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)"`)
	lockPID  = regexp.MustCompile(`"lock_holder": "[0-9]+ [^"]*"`)
	revertBy = regexp.MustCompile(`process [0-9]+`)
)

// normalize takes out of command output what changes from run to run: the
// root's temporary path, apply ids, times, process ids.
func normalize(out, root string) string {
	out = strings.ReplaceAll(out, root, "<root>")
	out = applyID.ReplaceAllString(out, "<id>")
	out = rfc3339.ReplaceAllString(out, `"<time>"`)
	out = lockPID.ReplaceAllString(out, `"lock_holder": "<pid> <command>"`)
	return revertBy.ReplaceAllString(out, "process <pid>")
}

// TestGoldenJSON: every command's --output json on every fixture, through
// plan, apply, history, status and rollback, is valid JSON with
// format_version and matches its golden file (the JSON contract programs
// rely on).
func TestGoldenJSON(t *testing.T) {
	t.Parallel()
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, name)
			steps := []struct {
				file string
				args []string
				code int
			}{
				{"facts", []string{"facts"}, 0},
				{"plan", []string{"plan"}, 0},
				{"apply", []string{"apply", "--yes"}, 0},
				{"history", []string{"history"}, 0},
				{"status", []string{"status"}, 0},
				{"rollback", []string{"rollback", "--yes"}, 0},
				{"firstboot-status", []string{"firstboot", "status"}, 0},
			}
			for _, st := range steps {
				r := cli(append(st.args, "--root", root, "--output", "json")...).must(t, st.code)
				var v map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatalf("%s: not JSON: %v\n%s", st.file, err, r.stdout)
				}
				if v["format_version"] != float64(1) {
					t.Errorf("%s: format_version %v", st.file, v["format_version"])
				}
				goldenFile(t, "json/"+name+"."+st.file+".json", normalize(r.stdout, root))
			}
		})
	}
}
