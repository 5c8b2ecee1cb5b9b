// Package adversarial holds the adversarial test suites: each runs
// ezedge-host against one class of faults and checks the promise the
// README makes (every command stays usable, rollback ends byte-identical).
// There is one file per class of fault:
//
//   - crashmatrix_test.go: apply, rollback, the rollback of a crashed apply
//     and the revert of an overdue try apply crashed before and after every
//     change they make, on every fixture host, in this process (hostroot
//     counts every change; inprocess_test.go makes the commands from the
//     library); killsweep_test.go: the production binary killed (SIGKILL) at
//     a seeded sample of the write-type system calls it makes, every kind of
//     call and every fixture at least once; both probe the crashed root with
//     crashprobe_test.go; tracer_test.go: the tracer, and hostroot's count
//     held against the system calls the binary makes;
//   - concurrency_test.go: readers and a second apply while an apply holds
//     the lock;
//   - hostileroot_test.go: every path the binary touches replaced by each
//     kind of file (FIFO, device, socket, directory, links out of the root
//     and to /dev/zero, a hard link out of the root, 8 GB sparse, 100 MB);
//     links planted onto files the binary does not own; no program run for
//     a root other than /;
//   - untrusted_test.go: edited saved plans, a store created too open, a
//     journal planted by another user, a journal cut at every byte.
//
// The package has no code outside its tests; the binary is built once by
// TestMain (main_test.go), which also hands over to the kill sweeps'
// tracer when the test binary is re-run as one.
package adversarial
