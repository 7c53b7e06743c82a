package secheaders_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/secheaders"
)

func Example() {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "legacy/1.0")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	})
	cors, err := secheaders.NewCORS(secheaders.CORSOptions{AllowOrigins: []string{"https://app.example.com"}})
	if err != nil {
		panic(err)
	}
	h := secheaders.Strict().Handler(cors.Handler(api))

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://app.example.com")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Header().Get("Server") == "")
	fmt.Println(w.Header().Get("Content-Security-Policy"))
	fmt.Println(w.Header().Get("Access-Control-Allow-Origin"))
	// Output:
	// true
	// default-src 'none'; frame-ancestors 'none'
	// https://app.example.com
}
