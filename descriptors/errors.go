package descriptors

import (
	"fmt"
	"strings"
)

// SchemaError is one problem found in a schema. File is the file's path as
// the schema names it (relative to its import path, for example
// "shop/v1/shop.proto"); Line and Column are 1-based and zero when the
// position is unknown (a descriptor set carries no source positions).
type SchemaError struct {
	File    string
	Line    int
	Column  int
	Message string
}

// Error formats the problem as "file.proto:LINE:COL: message", the form
// compilers and editors understand, dropping the parts that are unknown.
func (e *SchemaError) Error() string {
	switch {
	case e.File == "":
		return e.Message
	case e.Line <= 0:
		return e.File + ": " + e.Message
	case e.Column <= 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	}
}

// ErrorList is every problem one load found, in the order found. A loader
// returns it (never an empty one) so that a user fixes all mistakes in one
// round; errors.As finds each *SchemaError through Unwrap.
type ErrorList []*SchemaError

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// errorOrNil converts a possibly empty list to an error, so that an empty
// ErrorList never becomes a non-nil error interface.
func (l ErrorList) errorOrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// maxErrors caps how many problems one load reports: enough to fix a file
// in one round, not so many that a binary file fed as .proto floods a log.
const maxErrors = 20
