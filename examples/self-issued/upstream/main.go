// Command upstream runs the notes API behind examples/self-issued (package
// notesapi), signing its tokens with $NOTES_JWT_SECRET.
//
//	NOTES_JWT_SECRET=notes-secret go run ./examples/self-issued/upstream -addr 127.0.0.1:5001
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/examples/self-issued/notesapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5001", "listen address")
	flag.Parse()
	secret := os.Getenv("NOTES_JWT_SECRET")
	if secret == "" {
		log.Fatal("set NOTES_JWT_SECRET (the API's token secret; gatehouse needs the same one)")
	}
	srv := &http.Server{Addr: *addr, Handler: notesapi.New([]byte(secret), nil), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("notes API on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
