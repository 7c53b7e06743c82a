package logbuf

import "runtime"

func runtimeGosched() { runtime.Gosched() }
