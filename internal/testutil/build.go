package testutil

import (
	"fmt"
	"os/exec"
)

// GoBuild builds the main package pkg into the file out for a test that runs
// it as a real process. Under `go test -race` the binary is built with
// -race too: it then shares every compiled package with the test builds
// (a plain build would compile the whole module a second time, minutes on
// a cold CI cache) and the race detector also watches the real process.
func GoBuild(out, pkg string) error {
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	b, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// RaceEnabled reports whether the test binary runs with the race detector
// (binaries GoBuild makes are then race builds too, several times larger in
// memory and slower than what users run).
func RaceEnabled() bool { return raceEnabled }
