//go:build nodemo

package main

// demoBuilt tells whether this build has the demo command: a release build
// (-tags nodemo) leaves out the vulnerable demo API and its SQLite driver.
const demoBuilt = false
