package tasks

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/")

const (
	tableBegin = "<!-- task table: made from the registry by `go test ./tasks -update` -->\n"
	tableEnd   = "<!-- end of task table -->\n"
)

// TestDocs: docs/tasks.md's task table and docs/profile.schema.json are
// what the registry says (-update rewrites them).
func TestDocs(t *testing.T) {
	t.Parallel()
	docs := filepath.Join("..", "docs")
	md := filepath.Join(docs, "tasks.md")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the task table markers", md)
	}
	want := s[:i+len(tableBegin)] + Table() + s[j:]
	schema, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(docs, "profile.schema.json")
	if *update {
		os.WriteFile(md, []byte(want), 0o644)
		os.WriteFile(sp, schema, 0o644)
		return
	}
	if s != want {
		t.Errorf("%s's task table is not the registry's: go test ./tasks -update", md)
	}
	if got, _ := os.ReadFile(sp); string(got) != string(schema) {
		t.Errorf("%s is not the registry's: go test ./tasks -update", sp)
	}
}
