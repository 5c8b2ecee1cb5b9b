// Package adversarial holds the adversarial test suites: each runs the
// production ezedge-host binary against one class of faults and checks the
// promise the README makes (every command stays usable, rollback ends
// byte-identical). There is one file per class of fault:
//
//   - killsweep_test.go: apply and rollback killed (SIGKILL) at every
//     write-type system call they make, on every fixture host;
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
