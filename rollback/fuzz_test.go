package rollback

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
)

// FuzzJournal: any bytes in a journal are read as a record or refused with
// an error; never a panic, never half a record.
func FuzzJournal(f *testing.F) {
	f.Add([]byte(`{"op":"begin","format_version":1,"id":"x","time":"2026-01-01T00:00:00Z","i":0}` + "\n" +
		`{"op":"before","i":0,"task":"swappiness","resource":"sysctl:vm.swappiness","state":{"exists":true,"data":"NjAK"}}` + "\n" +
		`{"op":"after","i":0,"state":{"exists":true,"data":"MTAK"},"desired":{"exists":true,"data":"MTAK"}}` + "\n" +
		`{"op":"commit","i":0}` + "\n"))
	f.Add([]byte("{\"op\":\"begin\"}\n{\"op\":\"restored\",\"i\":5}\n"))
	dir := f.TempDir()
	snap := filepath.Join(dir, "var/lib/ezedge-host/snapshots")
	if err := os.MkdirAll(snap, 0o700); err != nil {
		f.Fatal(err)
	}
	h, err := hostroot.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	s := Open(h)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(snap, "x.jsonl"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := s.Read("x")
		if err == nil {
			for _, it := range r.Items {
				if it.Resource == "" {
					t.Fatalf("item without a resource: %+v", it)
				}
			}
		}
	})
}
