// Command upstream is the API behind every proxy bench/run measures: GET
// /items/{id} answers a ~400-byte JSON object, POST /items reads a JSON
// body (bench/run sends ~1 KiB) and answers the same object with status
// 201. Responses carry Content-Length, as most JSON APIs send them.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
)

// item is the response body: every field is declared in bench/run's spec,
// so the response filter keeps them all and direct and proxied responses
// have the same size.
const item = `{"id":12345,"name":"Widget deluxe","sku":"WD-0001-XL","price":1999,"currency":"EUR",` +
	`"description":"A widget of the deluxe kind, for benchmarks: it has a long enough description to make the whole JSON object about four hundred bytes long, as many APIs send.",` +
	`"tags":["tools","hardware","deluxe"],"stock":42,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","active":true}`

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	flag.Parse()
	body := []byte(item)
	clen := strconv.Itoa(len(body))
	h := func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", clen)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { h(w, http.StatusOK) })
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)); err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		h(w, http.StatusCreated)
	})
	log.Fatal((&http.Server{Addr: *addr, Handler: mux}).ListenAndServe())
}
