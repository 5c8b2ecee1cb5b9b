package ops

import (
	"strings"
	"testing"
)

// A change's task may name several (a shared file): each is measured for,
// once; what is not a task ("(no task)") is not.
func TestAddTasks(t *testing.T) {
	t.Parallel()
	var names []string
	for _, task := range []string{"swappiness,net-buffers,hugepages", "nvme-queue", "swappiness", "(no task)", "zswap,memory-cgroup"} {
		names = addTasks(names, task)
	}
	if strings.Join(names, " ") != "swappiness net-buffers hugepages nvme-queue zswap memory-cgroup" {
		t.Fatal(names)
	}
}
