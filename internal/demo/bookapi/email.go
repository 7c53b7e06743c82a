package bookapi

import "regexp"

// MaxEmailSteps caps the vulnerable matcher's backtracking per address, the
// way a regex engine with a match timeout gives up (.NET, some JS engines).
// Below the cap the cost doubles with each extra character of a
// non-matching local part; at the cap one check costs tens of milliseconds,
// which keeps tests and scans fast. 1<<22 put the 20-character answer
// right at the scanner's 5 ms floor, so a fast machine could miss it (CI).
const MaxEmailSteps = 1 << 24

// EmailPattern is the pattern both builds enforce. Its nested quantifier,
// ([a-zA-Z0-9]+[._-]?)+, is what makes a backtracking engine exponential.
const EmailPattern = `^([a-zA-Z0-9]+[._-]?)+@([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$`

var (
	emailRE  = regexp.MustCompile(EmailPattern) // RE2: linear time
	domainRE = regexp.MustCompile(`^([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$`)
)

// validEmail checks s against EmailPattern and records the steps it took
// (LastEmailSteps). The vulnerable build backtracks; the fixed one bounds the length and
// uses Go's linear-time engine (one step per byte).
func (a *API) validEmail(s string) bool {
	if a.opts.Fixed {
		a.lastSteps.Store(int64(len(s)))
		return len(s) <= 254 && emailRE.MatchString(s)
	}
	m := backtracker{s: s}
	ok := m.groups(0) && !m.aborted
	a.lastSteps.Store(int64(m.steps))
	return ok
}

// backtracker matches ^([a-zA-Z0-9]+[._-]?)+@domain$ the way a backtracking
// regex engine does: greedy runs, then every shorter split of the run into
// groups before giving up.
type backtracker struct {
	s       string
	steps   int
	aborted bool
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// groups matches one or more groups starting at i, then the domain.
func (m *backtracker) groups(i int) bool {
	end := i
	for end < len(m.s) && isAlnum(m.s[end]) {
		end++
	}
	for j := end; j > i; j-- { // [a-zA-Z0-9]+ greedy, then backtrack
		m.steps++
		if m.steps > MaxEmailSteps {
			m.aborted = true
			return false
		}
		k := j
		if k < len(m.s) && (m.s[k] == '.' || m.s[k] == '_' || m.s[k] == '-') {
			if m.next(k+1) || m.aborted {
				return !m.aborted
			}
		}
		if m.next(j) || m.aborted {
			return !m.aborted
		}
	}
	return false
}

// next continues after a group: another group, or "@" and the domain.
func (m *backtracker) next(i int) bool {
	if i < len(m.s) && isAlnum(m.s[i]) && m.groups(i) {
		return true
	}
	if m.aborted {
		return false
	}
	return i < len(m.s) && m.s[i] == '@' && domainRE.MatchString(m.s[i+1:])
}
