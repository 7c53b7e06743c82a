package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/gatehouse/gatehouse/internal/openapi"
)

func main() {
	t := time.Now()
	s, err := openapi.Load(os.Args[1])
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	fmt.Println(s.Version, len(s.Operations), time.Since(t), m.HeapAlloc>>20, "MiB")
	for _, o := range s.Operations[:3] {
		f, l, c := s.Position(o.Pointer)
		fmt.Println(o.ID, o.Pointer, len(o.Params), f, l, c)
	}
}
