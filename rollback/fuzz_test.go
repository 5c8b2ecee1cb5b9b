package rollback

import (
	"testing"
)

// FuzzJournal: any bytes in a journal are read as a record or refused with
// an error; never a panic, never half a record. And a journal cut short at
// any byte reads as well as the whole one did: a crash mid-write leaves an
// interrupted apply, never a corrupt one.
func FuzzJournal(f *testing.F) {
	f.Add([]byte(`{"op":"begin","format_version":2,"id":"20260101T000000Z","time":"2026-01-01T00:00:00Z","i":0}` + "\n" +
		`{"op":"before","i":0,"task":"swappiness","resource":"sysctl:vm.swappiness","state":{"exists":true,"data":"NjAK"}}` + "\n" +
		`{"op":"before","i":1,"task":"zswap","resource":"file:/etc/default/grub","state":{"exists":true,"data":"eAo=","mode":420},"then":"regenerate-grub"}` + "\n" +
		`{"op":"after","i":0,"state":{"exists":true,"data":"MTAK"},"desired":{"exists":true,"data":"MTAK"}}` + "\n" +
		`{"op":"commit","i":0}` + "\n" +
		`{"op":"restoring","i":1}` + "\n"))
	f.Add([]byte("{\"op\":\"begin\"}\n{\"op\":\"restored\",\"i\":5}\n"))
	f.Add([]byte(`{"op":"begin","format_version":1,"i":0}` + "\n" +
		`{"op":"before","i":0,"task":"zswap","resource":"file:/etc/default/grub","state":{"exists":true},"then":["/usr/sbin/update-grub"]}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parse("x.jsonl", "20260101T000000Z", data)
		if err != nil {
			return
		}
		for _, it := range r.Items {
			if it.Resource == nil {
				t.Fatalf("item without a resource: %+v", it)
			}
		}
		for _, k := range []int{0, 1, len(data) / 3, len(data) / 2, len(data) - 1} {
			if k < 0 || k > len(data) {
				continue
			}
			if _, err := parse("x.jsonl", "20260101T000000Z", data[:k]); err != nil {
				t.Fatalf("whole journal reads, cut at byte %d it does not: %v", k, err)
			}
		}
	})
}
