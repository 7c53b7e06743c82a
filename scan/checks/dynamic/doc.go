// Package dynamic holds gatehouse's dynamic scan checks (GH2xxx), one per
// file, each with a test against a deliberately vulnerable handler and a
// test proving it stays silent on a correct one.
//
// Every check compares with a baseline and confirms before it reports:
// false positives cost more trust than a missed finding.
package dynamic
