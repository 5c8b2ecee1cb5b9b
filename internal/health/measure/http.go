package measure

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Class is which of the guide's expected response times a capability URL
// is held to.
type Class string

const (
	Health  Class = "health"
	Simple  Class = "simple"
	Complex Class = "complex"
)

// Endpoint is a capability URL and its class, from --http [CLASS=]URL.
type Endpoint struct {
	Class Class  `json:"class"`
	URL   string `json:"url"`
}

// ParseEndpoint reads [CLASS=]URL (class health when not given): an
// http or https URL with a host.
func ParseEndpoint(s string) (Endpoint, error) {
	e := Endpoint{Class: Health, URL: s}
	if c, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(c, ":") && !strings.Contains(c, "/") {
		e.Class, e.URL = Class(c), rest
	}
	switch e.Class {
	case Health, Simple, Complex:
	default:
		return e, fmt.Errorf("--http %q: class %q: want health, simple or complex", s, e.Class)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return e, fmt.Errorf("--http %q: want [health|simple|complex=]http://HOST[:PORT]/PATH", s)
	}
	return e, nil
}

// Expected is the guide's response time range for a class on a platform
// family ("pi" or "amd64"), in ms; nil when the guide gives none.
func Expected(family string, c Class) *Span {
	ranges := map[string]map[Class]Span{
		"pi":    {Health: {50, 200}, Simple: {500, 5000}, Complex: {5000, 30000}},
		"amd64": {Health: {10, 50}, Simple: {100, 2000}, Complex: {1000, 10000}},
	}
	if s, ok := ranges[family][c]; ok {
		return &s
	}
	return nil
}

// Judge sets f's expected range and where its median lies against it.
func (f *Figure) Judge(want *Span) {
	if want == nil || f.Error != "" {
		return
	}
	f.Expected = want
	switch {
	case f.Median < want.Low:
		f.Verdict = "faster than the guide's range"
	case f.Median > want.High:
		f.Verdict = "slower than the guide's range"
	default:
		f.Verdict = "within the guide's range"
	}
}

// Concurrency is the guide's load test: 10 requests at once.
const Concurrency = 10

// maxBody is how much of a response is read (then the rest is dropped).
const maxBody = 1 << 20

// GetLatency measures a GET of e's URL: alone (requests one after the
// other, the median of each run) and with Concurrency requests at once
// (each run one round; its median). A response other than 2xx is an
// error. The deadline is shared: half for each.
func GetLatency(e Endpoint, d Deadline) (alone, loaded Figure) {
	halves := d.Split(2)
	tr := &http.Transport{MaxIdleConnsPerHost: Concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	alone = Figure{Kind: HTTP, Target: e.URL, Unit: Ms, Lower: true,
		Method: fmt.Sprintf("GET one at a time, connection reused, median of each of %d runs", Runs)}
	loaded = Figure{Kind: HTTP10, Target: e.URL, Unit: Ms, Lower: true,
		Method: fmt.Sprintf("%d GETs at once, median latency of each of %d rounds", Concurrency, Runs)}
	for _, run := range halves[0].Split(Runs) {
		var lat []float64
		for !run.Passed() && len(lat) < Concurrency {
			ms, err := get(client, e.URL, run)
			if err != nil {
				alone.Error = err.Error()
				break
			}
			lat = append(lat, ms)
		}
		if alone.Error != "" {
			break
		}
		if len(lat) > 0 {
			alone.Runs = append(alone.Runs, median(lat))
		}
	}
	alone.finish()
	if alone.Error != "" {
		loaded.Error = alone.Error
		loaded.finish()
		return alone, loaded
	}
	for _, run := range halves[1].Split(Runs) {
		if run.Passed() {
			break
		}
		lat := make([]float64, Concurrency)
		errs := make([]error, Concurrency)
		var wg sync.WaitGroup
		for i := range Concurrency {
			wg.Go(func() { lat[i], errs[i] = get(client, e.URL, run) })
		}
		wg.Wait()
		var ok []float64
		for i, err := range errs {
			if err != nil {
				loaded.Error = err.Error()
				break
			}
			ok = append(ok, lat[i])
		}
		if loaded.Error != "" {
			break
		}
		loaded.Runs = append(loaded.Runs, median(ok))
	}
	loaded.finish()
	return alone, loaded
}

// get times one GET, bounded by the deadline, body read to the end.
func get(c *http.Client, u string, d Deadline) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), max(d.Left(), 100*time.Millisecond))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	el := time.Since(start)
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return float64(el.Microseconds()) / 1000, nil
}
