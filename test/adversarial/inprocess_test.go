//go:build linux

package adversarial

// ezedge-host's commands made from the library, in this process, for the
// crash matrix: the steps apply, rollback and the revert of an overdue try
// apply take under the host lock (as cmd/ezedge-host does them), each on a
// root that may carry a crash test's cutter, and libRunner, which answers
// the probes' commands as the binary would (exit code, text, JSON) from a
// root opened afresh for each: a new process, that knows only the disk.
// They follow cmd/ezedge-host's flow (lockHost, apply, rollback); when that
// flow moves into a package of its own, they should become calls to it.
// TestChangesCountedLikeTraced fails if they drift apart in what they
// change.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// libNow is the clock of every in-process command: the same time in every
// run makes the same journal, so two crash points that leave the same disk
// can be seen to (and a try apply's deadline is always past).
var libNow = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

// libPlan reads the host and plans it with the platform's defaults.
func libPlan(h *hostroot.Root, store *rollback.Store) (*plan.Plan, error) {
	f, err := platform.DetectAs(h, "", tasks.Observations())
	if err != nil {
		return nil, err
	}
	return plan.Build(h, store, f, nil)
}

// libLock is the first step of every command that changes the host: take
// the lock, revert what is overdue, clear what crashes left.
func libLock(h *hostroot.Root, store *rollback.Store, what string) (func(), error) {
	unlock, err := store.Lock(0, what)
	if err != nil {
		return nil, err
	}
	revs, err := tryapply.RevertOverdue(store, h, libNow)
	if err != nil {
		unlock()
		return nil, err
	}
	for _, rv := range revs {
		if rv.Err != nil {
			unlock()
			return nil, fmt.Errorf("apply %s was not confirmed in time and its revert had not run; reverting it now failed: %w", rv.ID, rv.Err)
		}
	}
	if hi, err := store.History(); err == nil {
		store.Tidy(hi)
	}
	return unlock, nil
}

// libApply is `apply --yes`: plan, lock, plan again, apply.
func libApply(h *hostroot.Root) (*apply.Applied, error) {
	store := rollback.Open(h)
	if _, err := libPlan(h, store); err != nil {
		return nil, err
	}
	unlock, err := libLock(h, store, "ezedge-host apply")
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := libPlan(h, store)
	if err != nil {
		return nil, err
	}
	return apply.Apply(h, store, p, libNow)
}

// errDrift is a rollback left incomplete on purpose (exit 3).
var errDrift = errors.New("rollback incomplete: resources changed since the apply were left alone (--force restores them)")

// libRollback is `rollback --yes [--force]` of the latest apply.
func libRollback(h *hostroot.Root, force bool) ([]*rollback.Outcome, error) {
	store := rollback.Open(h)
	targets := func() ([]*rollback.Record, error) {
		hi, err := store.History()
		if err == nil {
			err = hi.Err()
		}
		if err != nil {
			return nil, err
		}
		return rollback.Targets(hi.Records, "")
	}
	if _, err := targets(); err != nil {
		return nil, err
	}
	unlock, err := libLock(h, store, "ezedge-host rollback")
	if err != nil {
		return nil, err
	}
	defer unlock()
	ts, err := targets()
	if err != nil {
		return nil, err
	}
	var outs []*rollback.Outcome
	for _, r := range ts {
		o, err := store.Restore(r, force)
		outs = append(outs, o)
		if err != nil {
			return outs, fmt.Errorf("rollback of %s: %w", r.ID, err)
		}
		if !o.Complete {
			return outs, errDrift
		}
		if tryapply.IsPending(h, r.ID) {
			if err := tryapply.Done(h, r.ID); err != nil {
				return outs, err
			}
		}
	}
	return outs, nil
}

// libRevert is what any command that changes the host does first when a
// try apply is overdue (confirm, revert-pending): the lock's first step.
func libRevert(h *hostroot.Root) error {
	unlock, err := libLock(h, rollback.Open(h), "ezedge-host revert-pending")
	if err != nil {
		return err
	}
	unlock()
	return nil
}

// libRunner answers the probes' commands from the library: each opens the
// root afresh, as a new process would. Read-only commands run together
// (runAll) share what they read: plan and plan --detailed-exitcode one
// plan, status and history their text and JSON.
type libRunner struct{}

func (l libRunner) run(t *testing.T, root string, args ...string) result {
	return l.exec(t, root, args, map[string]any{})
}

func (l libRunner) runAll(t *testing.T, root string, cmds [][]string) []result {
	shared := map[string]any{}
	rs := make([]result, len(cmds))
	for i, args := range cmds {
		rs[i] = l.exec(t, root, args, shared)
	}
	return rs
}

// statusData and historyData are what status and history read.
type statusData struct {
	st view.Status
}

type historyData struct {
	hi      *rollback.History
	effects map[string][]*baseline.Effect
}

func (libRunner) exec(t *testing.T, root string, args []string, shared map[string]any) result {
	r := result{args: args}
	var out bytes.Buffer
	// read gives the data of command name, read once from a fresh root.
	read := func(name string, f func(h *hostroot.Root, store *rollback.Store) (any, error)) (any, error) {
		if v, ok := shared[name]; ok {
			return v, nil
		}
		h, err := hostroot.Open(root)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		v, err := f(h, rollback.Open(h))
		if err == nil {
			shared[name] = v
		}
		return v, err
	}
	json := len(args) >= 3 && args[1] == "--output" && args[2] == "json"
	err := func() error {
		switch {
		case args[0] == "plan":
			v, err := read("plan", func(h *hostroot.Root, store *rollback.Store) (any, error) { return libPlan(h, store) })
			if err != nil {
				return err
			}
			p := v.(*plan.Plan)
			view.PlanText(&out, p, false)
			if len(args) > 1 && args[1] == "--detailed-exitcode" && len(p.Pending()) > 0 {
				r.code = 2
			}
		case args[0] == "status":
			v, err := read("status", func(h *hostroot.Root, store *rollback.Store) (any, error) {
				pending, err := tryapply.List(h)
				if err != nil {
					return nil, err
				}
				hi, err := store.History()
				if err != nil {
					return nil, err
				}
				return statusData{view.NewStatus(pending, hi, nil, libNow)}, nil
			})
			if err != nil {
				return err
			}
			if json {
				return view.WriteJSON(&out, v.(statusData).st)
			}
			view.StatusText(&out, v.(statusData).st)
		case args[0] == "history":
			v, err := read("history", func(h *hostroot.Root, store *rollback.Store) (any, error) {
				hi, err := store.History()
				if err != nil {
					return nil, err
				}
				effects, _, err := baseline.Effects(h)
				return historyData{hi, effects}, err
			})
			if err != nil {
				return err
			}
			d := v.(historyData)
			if json {
				return view.WriteJSON(&out, view.NewHistory(d.hi, d.effects))
			}
			view.HistoryText(&out, d.hi, d.effects)
		case args[0] == "revert-pending":
			return withRoot(root, libRevert)
		case args[0] == "rollback" && len(args) == 2 && args[1] == "--yes":
			return withRoot(root, func(h *hostroot.Root) error {
				outs, err := libRollback(h, false)
				view.RollbackText(&out, outs)
				return err
			})
		default:
			t.Fatalf("libRunner: no in-process form of `%s`", strings.Join(args, " "))
		}
		return nil
	}()
	r.stdout = out.String()
	if err != nil {
		r.code = 1
		if errors.Is(err, errDrift) {
			r.code = 3
		}
		r.stderr = "ezedge-host: " + err.Error() + "\n"
	}
	return r
}

// withRoot runs f on root, opened afresh.
func withRoot(root string, f func(h *hostroot.Root) error) error {
	h, err := hostroot.Open(root)
	if err != nil {
		return err
	}
	defer h.Close()
	return f(h)
}
