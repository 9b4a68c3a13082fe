package playground

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fastnn/fastnn/backend"
	_ "github.com/fastnn/fastnn/backend/cpu"
)

func newTestServer(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	be, _, err := backend.Open("cpu", backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	o.Backend = be
	s := NewServer(o)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
		be.Close()
	})
	return s, ts
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	code, out, err := tryPost(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// tryPost is post for goroutines other than the test's, which must not call
// t.Fatal: it returns the error instead.
func tryPost(url, body string) (int, map[string]any, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: reading the answer: %v", url, err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, nil, fmt.Errorf("POST %s: %d, answer %q is not a JSON object: %v", url, resp.StatusCode, b, err)
	}
	return resp.StatusCode, out, nil
}

// nextState reads the next SSE event of a stream.
func nextState(t *testing.T, r *bufio.Reader) State {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var st State
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				t.Fatalf("bad event %q: %v", data, err)
			}
			return st
		}
	}
}

// TestTrainsXORLive creates an xor session, plays it, and watches the
// stream: the epoch advances, the loss falls and the boundary changes.
func TestTrainsXORLive(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	code, created := post(t, ts.URL+"/api/sessions", `{"dataset":"xor","hidden":[8,4],"act":"tanh","lr":0.1}`)
	if code != 200 {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	resp, err := http.Get(ts.URL + "/api/sessions/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := bufio.NewReader(resp.Body)
	first := nextState(t, events)
	if first.Epoch != 0 || len(first.Grid.P) != gridSize*gridSize || len(first.Layers) != 3 || first.Layers[0].In != 2 || first.Layers[0].Out != 8 {
		t.Fatalf("first state: epoch %d, %d grid values, layers %+v", first.Epoch, len(first.Grid.P), first.Layers)
	}
	if code, _ := post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"play"}`); code != 200 {
		t.Fatalf("play: %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	var last State
	for time.Now().Before(deadline) {
		last = nextState(t, events)
		if last.Epoch > 50 && last.TrainLoss < first.TrainLoss/2 {
			break
		}
	}
	if !(last.Epoch > 50 && last.TrainLoss < first.TrainLoss/2) {
		t.Fatalf("after 20 s: epoch %d, loss %v (started at %v)", last.Epoch, last.TrainLoss, first.TrainLoss)
	}
	changed := 0
	for i := range last.Grid.P {
		if d := last.Grid.P[i] - first.Grid.P[i]; d > 0.05 || d < -0.05 {
			changed++
		}
	}
	if changed < len(last.Grid.P)/10 {
		t.Errorf("the boundary barely changed: %d of %d cells", changed, len(last.Grid.P))
	}
	if code, st := post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"pause"}`); code != 200 || st["playing"] != false {
		t.Errorf("pause: %d %v", code, st["playing"])
	}
	code, fwd := post(t, ts.URL+"/api/sessions/"+id+"/forward", `{"x":[0.1,0.9]}`)
	layers, _ := fwd["layers"].([]any)
	if code != 200 || len(layers) != 4 || len(layers[1].([]any)) != 8 {
		t.Fatalf("forward: %d %v", code, fwd)
	}
	t.Logf("epoch %d, train loss %.4f -> %.4f, p(0.1, 0.9) = %v", last.Epoch, first.TrainLoss, last.TrainLoss, layers[3])
}

func TestStepResetPoints(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	_, created := post(t, ts.URL+"/api/sessions", `{"dataset":"spiral","samples":200,"test":0.25,"hidden":[]}`)
	id := created["id"].(string)
	_, st := post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"step"}`)
	if st["epoch"] != 1.0 {
		t.Errorf("after step: epoch %v", st["epoch"])
	}
	_, st = post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"reset"}`)
	if st["epoch"] != 0.0 {
		t.Errorf("after reset: epoch %v", st["epoch"])
	}
	resp, _ := http.Get(ts.URL + "/api/sessions/" + id + "/points")
	var pts struct {
		Train, Test [][3]float64
		Bounds      [4]float64
	}
	json.NewDecoder(resp.Body).Decode(&pts)
	resp.Body.Close()
	if len(pts.Train) != 150 || len(pts.Test) != 50 || !(pts.Bounds[0] < pts.Bounds[1]) {
		t.Errorf("points: %d train, %d test, bounds %v", len(pts.Train), len(pts.Test), pts.Bounds)
	}
}

func TestGradFlowView(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	flags := func(body string) []string {
		code, out := post(t, ts.URL+"/api/gradflow", body)
		if code != 200 {
			t.Fatalf("%s: %d %v", body, code, out)
		}
		var f []string
		for _, l := range out["layers"].([]any) {
			f = append(f, l.(map[string]any)["flag"].(string))
		}
		return f
	}
	sig := flags(`{"act":"sigmoid","depth":10}`)
	if len(sig) != 11 || sig[0] != "vanishing" {
		t.Errorf("deep sigmoid: %v, want the first layer vanishing", sig)
	}
	if wide := flags(`{"act":"tanh","depth":12,"width":16}`); len(wide) != 13 {
		t.Errorf("depth 12 width 16: %d layers", len(wide))
	}
	for _, f := range flags(`{"act":"relu","depth":10,"residual":true}`) {
		if f != "" {
			t.Errorf("relu + residual flagged %q", f)
		}
	}
}

// TestBadRequests: each gets a 4xx with a message, and the server stays up.
func TestBadRequests(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxSessions: 2})
	for _, c := range []struct {
		path, body string
		status     int
		says       string
	}{
		{"/api/sessions", `{"dataset":"mnist"}`, 400, "unknown dataset"},
		{"/api/sessions", `{"hidden":[10000]}`, 400, "neurons"},
		{"/api/sessions", `{"hidden":[1,1,1,1,1,1,1]}`, 400, "hidden layers"},
		{"/api/sessions", `{"dataset":"xor",`, 400, "malformed JSON"},
		{"/api/sessions", `{"dataset":"xor","color":"red"}`, 400, "unknown field"},
		{"/api/sessions", `{"lr":-1}`, 400, "learning rate"},
		{"/api/sessions", `{"samples":100000000}`, 400, "samples"},
		{"/api/sessions", `{"act":"swish"}`, 400, "activation"},
		{"/api/sessions", `{"dataset":"` + strings.Repeat("x", 70000) + `"}`, 413, "64 KiB"},
		{"/api/gradflow", `{"act":"relu","depth":50}`, 400, "depth"},
		{"/api/sessions/nope/control", `{"action":"play"}`, 404, "no session"},
	} {
		code, out := post(t, ts.URL+c.path, c.body)
		msg, _ := out["error"].(string)
		if code != c.status || !strings.Contains(msg, c.says) {
			t.Errorf("POST %s %.40s: %d %q; want %d and a message about %q", c.path, c.body, code, msg, c.status, c.says)
		}
	}
	_, created := post(t, ts.URL+"/api/sessions", `{}`)
	id := created["id"].(string)
	if code, out := post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"fly"}`); code != 400 {
		t.Errorf("unknown action: %d %v", code, out)
	}
	if code, out := post(t, ts.URL+"/api/sessions/"+id+"/forward", `{"x":[1]}`); code != 400 {
		t.Errorf("one coordinate: %d %v", code, out)
	}
	post(t, ts.URL+"/api/sessions", `{}`)
	if code, out := post(t, ts.URL+"/api/sessions", `{}`); code != 429 {
		t.Errorf("third session of 2: %d %v", code, out)
	}
	if resp, err := http.Get(ts.URL + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the server is down after bad requests: %v", err)
	}
}

// TestIdleSessionsAreRemoved: a session whose page went away (no stream, no
// requests) is cleaned up; one with an open stream stays.
func TestIdleSessionsAreRemoved(t *testing.T) {
	s, ts := newTestServer(t, Options{IdleTimeout: 200 * time.Millisecond})
	post(t, ts.URL+"/api/sessions", `{}`)
	_, created := post(t, ts.URL+"/api/sessions", `{}`)
	resp, err := http.Get(ts.URL + "/api/sessions/" + created["id"].(string) + "/events")
	if err != nil {
		t.Fatal(err)
	}
	// Sweep as the janitor would at a time when both are long idle: the
	// stream, open once Get returns, keeps its session.
	s.removeIdle(time.Now().Add(time.Hour))
	if n := s.Sessions(); n != 1 {
		t.Errorf("%d sessions after the idle timeout, want 1 (the one streaming)", n)
	}
	resp.Body.Close()
	// Now the janitor itself removes it, within a bounded time.
	deadline := time.Now().Add(5 * time.Second)
	for s.Sessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.Sessions(); n != 0 {
		t.Errorf("%d sessions 5 s after the stream closed", n)
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/api/sessions/"+created["id"].(string), nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Errorf("deleting a removed session: %d", r.StatusCode)
	}
}

// TestCloseWhileBusy deletes a session while requests are using it, then
// closes the server while others run: every request ends with an answer
// (no panic, no hang), and no session survives Close.
func TestCloseWhileBusy(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	_, created := post(t, ts.URL+"/api/sessions", `{"dataset":"spiral","hidden":[8,8,8]}`)
	id := created["id"].(string)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 40)
	for i := 0; i < 20; i++ {
		go func() {
			code, _, err := tryPost(ts.URL+"/api/sessions/"+id+"/control", `{"action":"step"}`)
			done <- result{code, err}
		}()
		go func() {
			code, _, err := tryPost(ts.URL+"/api/sessions/"+id+"/forward", `{"x":[0.5,0.5]}`)
			done <- result{code, err}
		}()
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/api/sessions/"+id, nil)
	if _, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		select {
		case r := <-done:
			if r.err != nil {
				t.Errorf("a request racing the delete: %v", r.err)
			} else if r.code != 200 && r.code != 404 {
				t.Errorf("a request racing the delete got %d", r.code)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a request racing the delete hung")
		}
	}
	post(t, ts.URL+"/api/sessions", `{}`)
	s.Close()
	s.Close() // twice is fine
	if code, _ := post(t, ts.URL+"/api/sessions", `{}`); code != http.StatusServiceUnavailable {
		t.Errorf("create after Close: %d", code)
	}
	if n := s.Sessions(); n != 0 {
		t.Errorf("%d sessions after Close", n)
	}
}

// newRealServer serves s the way cmd/playground does (HTTPServer's
// timeouts) on 127.0.0.1.
func newRealServer(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s, _ := newTestServer(t, o)
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = s.HTTPServer()
	ts.Start()
	t.Cleanup(ts.Close)
	return s, ts
}

// TestSlowClientsAreCutOff: a client that sends part of a request and then
// nothing is answered 408 (body) or disconnected (header) once
// Options.ReadTimeout has passed, not held for minutes.
func TestSlowClientsAreCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	_, ts := newRealServer(t, Options{ReadTimeout: timeout})
	for _, c := range []struct{ name, send, want string }{
		{"body", "POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"dataset\":", "HTTP/1.1 408"},
		{"header", "POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-", ""},
	} {
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := io.WriteString(conn, c.send); err != nil {
			t.Fatal(err)
		}
		// A bound on the test itself: if the server never cuts the client
		// off, the read fails here after 10 s.
		conn.SetReadDeadline(start.Add(10 * time.Second))
		got, err := io.ReadAll(conn)
		took := time.Since(start)
		if err != nil {
			t.Errorf("slow %s: still connected after %v: %v", c.name, took.Round(time.Millisecond), err)
			continue
		}
		if !strings.HasPrefix(string(got), c.want) || (c.want != "" && !strings.Contains(string(got), "not received within")) {
			t.Errorf("slow %s: answer %q, want %q with a message", c.name, got, c.want)
		}
		if took < timeout || took > timeout+3*time.Second {
			t.Errorf("slow %s: cut off after %v, want about %v", c.name, took, timeout)
		}
		t.Logf("slow %s: cut off after %v", c.name, took.Round(time.Millisecond))
	}
	// A prompt client is still served.
	if code, out := post(t, ts.URL+"/api/sessions", `{}`); code != 200 {
		t.Errorf("create after the slow clients: %d %v", code, out)
	}
}

// TestPlayRate: a playing session trains at most about 100 epochs a second
// (API.md), however fast its epochs are. The rate is measured over the
// stream's states, in at most 3 s.
func TestPlayRate(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	_, created := post(t, ts.URL+"/api/sessions", `{"dataset":"xor","hidden":[2]}`)
	id := created["id"].(string)
	resp, err := http.Get(ts.URL + "/api/sessions/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	nextState(t, events)
	if code, _ := post(t, ts.URL+"/api/sessions/"+id+"/control", `{"action":"play"}`); code != 200 {
		t.Fatalf("play: %d", code)
	}
	first := nextState(t, events)
	start := time.Now()
	last := first
	for time.Since(start) < 2*time.Second {
		last = nextState(t, events)
	}
	rate := float64(last.Epoch-first.Epoch) / time.Since(start).Seconds()
	t.Logf("%d epochs in %v: %.0f a second", last.Epoch-first.Epoch, time.Since(start).Round(time.Millisecond), rate)
	if rate > 110 {
		t.Errorf("a playing session trains %.0f epochs a second, API.md says at most about 100", rate)
	}
}
