package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// nodeExporter finds Debian's prometheus-node-exporter: on PATH, or
// unpacked by `make test-deps` into .cache/tools. Under CI its absence is
// a failure, not a skip.
func nodeExporter(t *testing.T) string {
	if p, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		return p
	}
	p := filepath.Join(fixture.Testdata(), "..", ".cache", "tools", "usr", "bin", "prometheus-node-exporter")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus-node-exporter not found (make test-deps unpacks it into .cache/tools)")
	}
	t.Skip("prometheus-node-exporter not found: run make test-deps")
	return ""
}

// TestNodeExporterReadsTextfile: the real node exporter, started on a
// loopback port with only its textfile collector, reads the textfile
// `check --output prometheus` wrote on every fixture without a scrape
// error, and serves the check's metrics with the values the check saw.
func TestNodeExporterReadsTextfile(t *testing.T) {
	t.Parallel()
	bin := nodeExporter(t)
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, name)
			dir := filepath.Join(root, "var/lib/prometheus/node-exporter")
			os.MkdirAll(dir, 0o755)
			r := cli("check", "--root", root, "--output", "prometheus", "--firmware")
			if r.code != 0 && r.code != 4 && r.code != 5 {
				t.Fatalf("check: exit %d: %s", r.code, r.stderr)
			}
			prom := readFile(t, filepath.Join(dir, "ezedge-host.prom"))
			metrics := scrape(t, bin, dir)
			if !strings.Contains(metrics, "\nnode_textfile_scrape_error 0\n") {
				t.Fatalf("the exporter could not read the textfile:\n%s", grepLines(metrics, "textfile"))
			}
			// Every sample of the textfile is served as written.
			n := 0
			for _, l := range strings.Split(prom, "\n") {
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				n++
				if !strings.Contains(metrics, "\n"+l+"\n") {
					t.Errorf("sample not served as written: %s", l)
				}
			}
			if n < 10 {
				t.Errorf("only %d samples in the textfile", n)
			}
		})
	}
}

// scrape runs the exporter on a free loopback port until /metrics
// answers, and returns its body.
func scrape(t *testing.T, bin, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+dir)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == 200 {
				return "\n" + string(b)
			}
			err = fmt.Errorf("status %d (%v)", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node exporter on %s: %v\n%s", addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
