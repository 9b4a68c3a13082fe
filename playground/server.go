// Package playground serves the tutorials' interactive pictures (a
// playground with a live decision boundary, a forward-propagation demo and a
// gradient-flow view) from the real engine: every number a page shows is
// computed by nn on a backend. The page is plain HTML, CSS and JavaScript
// embedded in the binary; API.md describes the HTTP API.
package playground

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fastnn/fastnn/backend"
)

//go:embed web
var webFiles embed.FS

// Options configure a Server.
type Options struct {
	Backend     backend.Backend // shared by all sessions
	MaxSessions int             // 0: 64
	IdleTimeout time.Duration   // 0: 60 s; a session with no open stream and no request for this long is removed
	ReadTimeout time.Duration   // 0: 10 s; the most a request's header, and then its body, may take to arrive
}

// Server holds the playground sessions.
type Server struct {
	opts     Options
	mu       sync.Mutex
	sessions map[string]*session
	mux      *http.ServeMux
	quit     chan struct{}
	janitor  sync.WaitGroup
	closing  sync.Once
	closed   bool // under mu: no new sessions
}

const maxBody = 64 << 10

// NewServer makes a server and starts its janitor, which removes idle
// sessions.
func NewServer(o Options) *Server {
	if o.MaxSessions == 0 {
		o.MaxSessions = 64
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 10 * time.Second
	}
	s := &Server{opts: o, sessions: map[string]*session{}, mux: http.NewServeMux(), quit: make(chan struct{})}
	web, _ := fs.Sub(webFiles, "web")
	s.mux.Handle("GET /", http.FileServerFS(web))
	s.mux.HandleFunc("POST /api/sessions", s.create)
	s.mux.HandleFunc("GET /api/sessions/{id}/points", s.withSession(s.points))
	s.mux.HandleFunc("POST /api/sessions/{id}/control", s.withSession(s.control))
	s.mux.HandleFunc("GET /api/sessions/{id}/events", s.withSession(s.events))
	s.mux.HandleFunc("POST /api/sessions/{id}/forward", s.withSession(s.forwardPoint))
	s.mux.HandleFunc("DELETE /api/sessions/{id}", s.delete)
	s.mux.HandleFunc("POST /api/gradflow", s.gradflow)
	s.janitor.Add(1)
	go s.sweep()
	return s
}

// Handler is the server's HTTP handler. Serve it with HTTPServer, whose
// header timeout goes with the body deadline that the handler sets.
func (s *Server) Handler() http.Handler { return s.mux }

// HTTPServer is an http.Server for the handler: a client gets
// Options.ReadTimeout to send a request's header, then as long again for its
// body (answered 408 after that), so a client that stops sending holds no
// connection for long. The event streams have no read deadline: they read no
// body and may stay open.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s.mux, ReadHeaderTimeout: s.opts.ReadTimeout, IdleTimeout: 2 * time.Minute}
}

// Close stops every session; later requests to create one are refused.
// It may be called more than once.
func (s *Server) Close() {
	s.closing.Do(func() {
		close(s.quit)
		s.janitor.Wait()
		s.mu.Lock()
		s.closed = true
		all := s.sessions
		s.sessions = map[string]*session{}
		s.mu.Unlock()
		for _, ss := range all {
			ss.close()
		}
	})
}

// Sessions is the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) sweep() {
	defer s.janitor.Done()
	tick := time.NewTicker(max(s.opts.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
		}
		s.removeIdle(time.Now())
	}
}

// removeIdle removes the sessions that, at now, have no open stream and
// have seen no request for longer than Options.IdleTimeout.
func (s *Server) removeIdle(now time.Time) {
	var idle []*session
	s.mu.Lock()
	for id, ss := range s.sessions {
		ss.mu.Lock()
		if ss.streams == 0 && now.Sub(ss.lastSeen) > s.opts.IdleTimeout {
			idle = append(idle, ss)
			delete(s.sessions, id)
		}
		ss.mu.Unlock()
	}
	s.mu.Unlock()
	for _, ss := range idle {
		ss.close()
	}
}

// httpError is an error with the status to answer it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most maxBody bytes with no unknown fields,
// within Options.ReadTimeout.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	rc := http.NewResponseController(w)
	// A ResponseWriter that has no connection (httptest.ResponseRecorder)
	// cannot set deadlines: its body is already all there.
	_ = rc.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	// The deadline stays after an error: the server then gives up on the
	// rest of the body and closes the connection.
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{http.StatusRequestEntityTooLarge, "request body over 64 KiB"}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &httpError{http.StatusRequestTimeout, fmt.Sprintf("request body not received within %v", s.opts.ReadTimeout)}
		}
		return &httpError{http.StatusBadRequest, "malformed JSON: " + err.Error()}
	}
	_ = rc.SetReadDeadline(time.Time{})
	return nil
}

func answer(w http.ResponseWriter, err error) {
	var he *httpError
	if errors.As(err, &he) {
		fail(w, he.status, "%s", he.msg)
		return
	}
	fail(w, http.StatusBadRequest, "%v", err)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var cfg Config
	if err := s.decode(w, r, &cfg); err != nil {
		answer(w, err)
		return
	}
	if err := cfg.normalize(); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	full, closed := len(s.sessions) >= s.opts.MaxSessions, s.closed
	s.mu.Unlock()
	if closed {
		fail(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	if full {
		fail(w, http.StatusTooManyRequests, "too many playground sessions (%d); close a tab or try again later", s.opts.MaxSessions)
		return
	}
	id := newID()
	ss, err := newSession(id, cfg, s.opts.Backend)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	// Check again under the lock that inserts: concurrent creates must not
	// pass the limit, nor a create race a Close.
	s.mu.Lock()
	if s.closed || len(s.sessions) >= s.opts.MaxSessions {
		s.mu.Unlock()
		ss.close()
		fail(w, http.StatusTooManyRequests, "too many playground sessions (%d); close a tab or try again later", s.opts.MaxSessions)
		return
	}
	s.sessions[id] = ss
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "config": cfg})
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withSession finds the {id} session, marks it seen and calls h.
func (s *Server) withSession(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ss, ok := s.sessions[r.PathValue("id")]
		s.mu.Unlock()
		if !ok {
			fail(w, http.StatusNotFound, "no session %q (it may have been idle too long)", r.PathValue("id"))
			return
		}
		ss.mu.Lock()
		ss.lastSeen = time.Now()
		ss.mu.Unlock()
		h(w, r, ss)
	}
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ss, ok := s.sessions[r.PathValue("id")]
	delete(s.sessions, r.PathValue("id"))
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "no session %q", r.PathValue("id"))
		return
	}
	ss.close()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) points(w http.ResponseWriter, r *http.Request, ss *session) {
	list := func(n int, x, y []float32) [][3]float32 {
		out := make([][3]float32, n)
		for i := range out {
			out[i] = [3]float32{x[2*i], x[2*i+1], y[i]}
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"train":  list(ss.train.N, ss.train.X, ss.train.Y),
		"test":   list(ss.test.N, ss.test.X, ss.test.Y),
		"bounds": ss.bounds,
	})
}

func (s *Server) control(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		Action string `json:"action"`
	}
	if err := s.decode(w, r, &req); err != nil {
		answer(w, err)
		return
	}
	switch req.Action {
	case "play", "pause", "step", "reset":
	default:
		fail(w, http.StatusBadRequest, "unknown action %q (want play, pause, step or reset)", req.Action)
		return
	}
	blob, err := ss.control(req.Action)
	if sessionFailed(w, ss, err) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(blob)
}

// events streams the session's state as Server-Sent Events, about 15 a
// second, sending a snapshot only when it changed.
func (s *Server) events(w http.ResponseWriter, r *http.Request, ss *session) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	ss.mu.Lock()
	ss.streams++
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.streams--
		ss.lastSeen = time.Now()
		ss.mu.Unlock()
	}()
	tick := time.NewTicker(time.Second / 15)
	defer tick.Stop()
	sent := -1
	for {
		ss.mu.Lock()
		version, blob := ss.version, ss.snapshot
		ss.mu.Unlock()
		if version != sent {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", blob); err != nil {
				return
			}
			flusher.Flush()
			sent = version
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-ss.quit:
			return
		case <-tick.C:
		}
	}
}

func (s *Server) forwardPoint(w http.ResponseWriter, r *http.Request, ss *session) {
	var req struct {
		X []float64 `json:"x"`
	}
	if err := s.decode(w, r, &req); err != nil {
		answer(w, err)
		return
	}
	if len(req.X) != 2 || !finiteNum(req.X[0]) || !finiteNum(req.X[1]) {
		fail(w, http.StatusBadRequest, "x must be two finite numbers")
		return
	}
	layers, err := ss.forward(float32(req.X[0]), float32(req.X[1]))
	if sessionFailed(w, ss, err) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"layers": layers})
}

// sessionFailed answers a session operation's error, if any: 404 for a
// session closed under the request, 500 otherwise.
func sessionFailed(w http.ResponseWriter, ss *session, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errGone):
		fail(w, http.StatusNotFound, "session %s was closed", ss.id)
	default:
		fail(w, http.StatusInternalServerError, "%v", err)
	}
	return true
}

func finiteNum(v float64) bool { return v == v && v < 1e30 && v > -1e30 }
