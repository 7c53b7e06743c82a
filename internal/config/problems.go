package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError.
var ErrInvalid = errors.New("invalid config")

// Problem is one configuration error or warning, located by its YAML key path
// (e.g. "authn.jwt[0].issuer"; map keys are joined with "." like struct keys,
// list items use [i]). Load and Validate fill File, Line and Col from the path.
type Problem struct {
	Path    string
	Msg     string
	Warning bool
	File    string
	Line    int
	Col     int
}

// String formats p as "FILE:LINE:COL: [warning: ]key.path: message"; the
// path part is left out when the problem belongs to the whole file, and
// continuation lines of a multi-line message are indented with a tab.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Col)
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	// A multi-line message (a CEL compile error, say) keeps one problem per
	// unindented line: continuation lines are indented with a tab.
	b.WriteString(strings.ReplaceAll(p.Msg, "\n", "\n\t"))
	return b.String()
}

// Error implements error, so a Problem can be unwrapped from a ValidationError.
func (p Problem) Error() string { return p.String() }

// Problems collects every problem found, so that validate reports them all at once.
// The zero value is ready to use; it is not safe for concurrent use.
type Problems struct {
	List []Problem
}

// Errorf records an error at key path.
func (p *Problems) Errorf(path, format string, args ...any) {
	p.List = append(p.List, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Warnf records a warning at key path (validate prints it; it does not fail).
func (p *Problems) Warnf(path, format string, args ...any) {
	p.List = append(p.List, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// HasErrors tells whether any problem is an error (not a warning).
func (p *Problems) HasErrors() bool {
	for _, pr := range p.List {
		if !pr.Warning {
			return true
		}
	}
	return false
}

// ValidationError is every problem of one config file: errors first, then
// warnings, each sorted by position. Load, Validate and (*Config).Locate
// return it; it matches ErrInvalid.
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line as "FILE:LINE:COL: key.path: message".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is reports target == ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns each problem as an error.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Errors returns only the problems that are errors.
func (e *ValidationError) Errors() []Problem { return filterProblems(e.Problems, false) }

// Warnings returns only the problems that are warnings.
func (e *ValidationError) Warnings() []Problem { return filterProblems(e.Problems, true) }

func filterProblems(ps []Problem, warning bool) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Warning == warning {
			out = append(out, p)
		}
	}
	return out
}

// sortProblems orders errors before warnings, then by line, column and path.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Warning != b.Warning {
			return !a.Warning
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Path < b.Path
	})
}

// PathError ties an error found after validation (for example by
// gateway.Build compiling a CEL rule) to a config key path, so that
// (*Config).Locate can report it at its file position.
type PathError struct {
	Path string
	Err  error
}

// AtPath wraps err with a config key path; it returns nil when err is nil.
func AtPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return &PathError{Path: path, Err: err}
}

// Error returns "path: err".
func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PathError) Unwrap() error { return e.Err }
