package config

import "fmt"

// Problem is one configuration error or warning, located by its YAML key path
// (e.g. "authn.jwt[0].issuer"); Load fills File, Line and Col from the path.
type Problem struct {
	Path    string
	Msg     string
	Warning bool
	File    string
	Line    int
	Col     int
}

// Problems collects every problem found, so that validate reports them all at once.
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
