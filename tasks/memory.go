package tasks

import (
	"fmt"
	"math"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Reserved is the memory the host keeps from containers under the
// profile's choices c: what each task that is on, and plans, keeps (its
// Reserves: huge pages, a tmpfs /tmp's cap, a volatile journal's cap),
// and the huge pages the kernel holds now where they are more than the
// hugepages task plans (or it is off): both are RAM in MemTotal that no
// container can take. The same list sizes `resources`,
// container-resources and check's limits-fit.
func Reserved(f *Facts, c Choices) []alloc.Reserve {
	out := []alloc.Reserve{}
	huge := -1
	for _, t := range All() {
		on, _ := t.Default(f)
		if v, set := c.Enabled(t); set {
			on = v
		}
		if !on {
			continue
		}
		o := c.Options(t)
		r := t.Reserves(f, o)
		if r == nil {
			continue
		}
		// A task that skips or refuses here keeps nothing.
		if in := t.Plan(f, o, c); in.Skip != "" || in.Refuse != "" {
			continue
		}
		if t.Name() == "hugepages" {
			huge = len(out)
		}
		out = append(out, *r)
	}
	// /proc/meminfo is read from the root, untrusted: a count whose
	// product overflows keeps all of RAM rather than wrapping to little.
	now := alloc.Bytes(math.MaxUint64)
	if f.HugePageSize == 0 || f.HugePages <= math.MaxUint64/f.HugePageSize {
		now = alloc.Bytes(f.HugePages * f.HugePageSize)
	}
	nowWhy := fmt.Sprintf("HugePages_Total %d × %s now (/proc/meminfo)", f.HugePages, platform.HumanBytes(f.HugePageSize))
	switch {
	case huge >= 0 && out[huge].Size >= now:
		out[huge].Why += "; " + nowWhy
	case huge >= 0:
		out[huge] = alloc.Reserve{What: "huge pages", Size: now, Why: nowWhy + ", more than the hugepages task plans"}
	case now > 0:
		out = append(out, alloc.Reserve{What: "huge pages", Size: now, Why: nowWhy})
	}
	return out
}

// Allocate sizes the mix reqs for the host f under the profile's choices
// c: the budget is RAM less what Reserved keeps, less the OS's headroom;
// the floor of scaling is container-resources' floor_percent. o.RAM
// stands for an image's RAM, for the tasks' shares of it too.
func Allocate(f *Facts, c Choices, o alloc.Options, reqs []alloc.Request) (*alloc.Allocation, error) {
	if t, ok := ByName("container-resources"); ok && o.FloorPercent == 0 {
		o.FloorPercent = c.Options(t).(*ContainerResourcesOptions).FloorPercent
	}
	if o.RAM != 0 {
		g := *f
		g.MemTotal = uint64(o.RAM)
		f = &g
	}
	o.Reserved = Reserved(f, c)
	return alloc.Compute(f, o, reqs)
}
