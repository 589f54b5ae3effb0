// A per-process request counter served by net/http, built static (CGO_ENABLED=0): the body is the
// number of requests this process has served, so in ephemeral mode every new connection must read
// "1". The Go runtime starts several OS threads and preempts goroutines with SIGURG.
//
//	CGO_ENABLED=0 go build -o go-counter . && ./go-counter PORT
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go-counter PORT")
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port <= 0 {
		log.Fatalf("bad port %q", os.Args[1])
	}
	var served atomic.Int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, served.Add(1))
	})
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", port), nil))
}
