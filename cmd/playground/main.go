// Command playground serves the tutorials' interactive neural-network
// playground, forward-propagation demo and gradient-flow view, computed by
// the real engine.
//
//	go run ./cmd/playground            # then open http://127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastnn/fastnn/backend"
	_ "github.com/fastnn/fastnn/backend/cpu"
	_ "github.com/fastnn/fastnn/backend/cuda"
	"github.com/fastnn/fastnn/playground"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	name := flag.String("backend", "auto", "backend: auto, cpu, cuda")
	threads := flag.Int("threads", 0, "CPU threads (0: all)")
	maxSessions := flag.Int("max-sessions", 64, "most concurrent playground sessions (browser tabs)")
	flag.Parse()
	if err := run(*addr, *name, *threads, *maxSessions); err != nil {
		fmt.Fprintf(os.Stderr, "playground: %v\n", err)
		os.Exit(1)
	}
}

func run(addr, name string, threads, maxSessions int) error {
	if maxSessions < 1 {
		return fmt.Errorf("-max-sessions must be >= 1")
	}
	be, fallback, err := backend.Open(name, backend.Options{Threads: threads})
	if err != nil {
		return err
	}
	defer be.Close()
	if fallback != "" {
		fmt.Fprintln(os.Stderr, "playground:", fallback)
	}
	srv := playground.NewServer(playground.Options{Backend: be, MaxSessions: maxSessions})
	defer srv.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := srv.HTTPServer()
	fmt.Printf("playground on http://%s (%s); Ctrl-C to stop\n", ln.Addr(), be.Details())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
