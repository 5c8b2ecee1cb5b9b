// Package adversarial holds the suites that run the production binary
// against faults and hostile input, one file per class.
package adversarial
