package rollback

import (
	"strings"

	"github.com/hashicorp/go-multierror"
)

// OneLine formats combined errors on one line, so every failure reaches an
// operator (or a log line) as a single line naming each resource.
func OneLine(es []error) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// appendErr combines errors with OneLine formatting.
func appendErr(errs *multierror.Error, e ...error) *multierror.Error {
	errs = multierror.Append(errs, e...)
	errs.ErrorFormat = OneLine
	return errs
}
