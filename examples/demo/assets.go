// Package demo embeds the files of the gatehouse demo (the vulnerable API's
// OpenAPI document and the gateway config that protects it) so that
// `gatehouse demo` needs nothing beside the binary.
package demo

import _ "embed"

// Spec is the OpenAPI 3.1 document of the deliberately vulnerable demo API.
//
//go:embed openapi.yaml
var Spec []byte

// Config is the gateway config that protects the demo API.
//
//go:embed gatehouse.yaml
var Config []byte
