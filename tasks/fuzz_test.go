package tasks

import "testing"

func FuzzSetINI(f *testing.F) {
	f.Add([]byte("[main]\nNetworkingEnabled=true\nWirelessEnabled=true\n"))
	f.Add([]byte("[other]\nx=1"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := SetINI(data, "main", "WirelessEnabled", "false")
		if again := SetINI(out, "main", "WirelessEnabled", "false"); string(again) != string(out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
	})
}
