package view

import (
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Resources is `resources --output json`: the allocation and each form it
// is written in.
type Resources struct {
	FormatVersion int    `json:"format_version"`
	Root          string `json:"root"`
	alloc.Allocation
	// PodmanVersion is the installed Podman package's version; null when
	// the root does not say.
	PodmanVersion *string        `json:"podman_version"`
	Quadlet       QuadletSupport `json:"quadlet"`
	Forms         Forms          `json:"forms"`
}

// QuadletSupport says what this Podman's Quadlet reads.
type QuadletSupport struct {
	DropIns   bool   `json:"drop_ins"`
	MemoryKey bool   `json:"memory_key"`
	Note      string `json:"note"`
}

// Forms are the allocation in each form; a form not asked for is null.
type Forms struct {
	Compose *string `json:"compose"`
	// Quadlet is each container's drop-in, by the path it goes to.
	Quadlet map[string]string `json:"quadlet"`
	// Run is each container's `podman run` flags, by name.
	Run map[string][]string `json:"run"`
}

// NewResources renders a for the forms asked (none: all).
func NewResources(root string, a *alloc.Allocation, p alloc.Podman, forms []alloc.Form) Resources {
	r := Resources{FormatVersion: FormatVersion, Root: root, Allocation: *a}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if p.Version != "" {
		v := p.Version
		r.PodmanVersion = &v
	}
	r.Quadlet.DropIns, r.Quadlet.MemoryKey, r.Quadlet.Note = p.QuadletSupport()
	want := func(f alloc.Form) bool { return len(forms) == 0 || slices.Contains(forms, f) }
	if want(alloc.Compose) {
		s := string(alloc.ComposeOverride(a))
		r.Forms.Compose = &s
	}
	if want(alloc.Quadlet) {
		r.Forms.Quadlet = map[string]string{}
		for _, c := range a.Containers {
			r.Forms.Quadlet[alloc.QuadletPath(c.Name)] = string(alloc.QuadletDropIn(c, p))
		}
	}
	if want(alloc.Run) {
		r.Forms.Run = map[string][]string{}
		for _, c := range a.Containers {
			r.Forms.Run[c.Name] = alloc.RunFlags(c)
		}
	}
	return r
}

// ResourcesText is the allocation as a table, its reasons, and each form.
func ResourcesText(w io.Writer, r Resources) {
	escape.Fprintf(w, "Host: %s, %s RAM (%s installed), %d CPUs (%d physical cores); memory table row %q\n",
		r.Platform, platform.HumanBytes(uint64(r.MemTotal)), platform.HumanBytes(uint64(r.Physical)), r.Cores, r.PhysicalCores, r.Row)
	escape.Fprintf(w, "Budget: limits may sum to %s; the guide gives all containers %s.\n", r.Budget, r.Guide)
	for _, l := range r.BudgetWhy {
		escape.Fprintf(w, "  %s\n", l)
	}
	escape.Fprintf(w, "\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	escape.Fprintf(tw, "CONTAINER\tWORKLOAD\tMEMORY\tRESERVED\tCPUS\tENVIRONMENT\n")
	for _, c := range r.Containers {
		var env []string
		for _, e := range c.Env {
			env = append(env, e.Name+"="+e.Value)
		}
		if env == nil {
			env = []string{"-"}
		}
		escape.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Workload, c.Memory, c.Reservation, c.CPUs, strings.Join(env, " "))
	}
	tw.Flush()
	escape.Fprintf(w, "Sum: %s limits, %s reserved.\n", r.SumLimit, r.SumReservation)
	for _, c := range r.Containers {
		escape.Fprintf(w, "\nWhy %s:\n", c.Name)
		for _, y := range c.Why {
			escape.Fprintf(w, "  - %s\n", y)
		}
	}
	if r.Forms.Run != nil {
		escape.Fprintf(w, "\npodman run:\n")
		for _, c := range r.Containers {
			escape.Fprintf(w, "  podman run --name %s %s IMAGE\n", c.Name, strings.Join(r.Forms.Run[c.Name], " "))
		}
	}
	if r.Forms.Compose != nil {
		escape.Fprintf(w, "\nCompose override:\n")
		escape.Lines(w, "  ", *r.Forms.Compose)
	}
	if r.Forms.Quadlet != nil {
		escape.Fprintf(w, "\nQuadlet (%s):\n", r.Quadlet.Note)
		for _, c := range r.Containers {
			p := alloc.QuadletPath(c.Name)
			escape.Fprintf(w, "  %s:\n", p)
			escape.Lines(w, "    ", r.Forms.Quadlet[p])
		}
	}
	for _, x := range r.Warnings {
		escape.Fprintf(w, "\nwarning: %s\n", x)
	}
}
