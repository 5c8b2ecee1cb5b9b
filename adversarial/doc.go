// Package adversarial holds the adversarial test suites: each runs the
// production ezedge-host binary against one class of faults and checks the
// promise the README makes (every command stays usable, rollback ends
// byte-identical). There is one file per class of fault:
//
//   - killsweep_test.go: apply and rollback killed (SIGKILL) at every
//     write-type system call they make, on every fixture host;
//   - concurrency_test.go: readers and a second apply while an apply holds
//     the lock.
//
// The package has no code outside its tests; the binary is built once by
// TestMain.
package adversarial
