//go:build !nodemo

package main

// demoBuilt tells whether this build has the demo command (see demo.go).
const demoBuilt = true
