package playground

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fastnn/fastnn/backend"
	_ "github.com/fastnn/fastnn/backend/cpu"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserPlayground drives the page in headless Chromium against a real
// server on the CPU backend: it trains xor until the loss falls and the
// decision boundary changes, runs the gradient-flow view (deep sigmoid
// vanishes, relu with residual connections does not) and moves the forward
// demo's slider. It writes a full-page screenshot to $FASTNN_SCREENSHOT when
// that is set, else to a temporary folder.
func TestBrowserPlayground(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("the browser test needs Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	begin := time.Now()

	be, _, err := backend.Open("cpu", backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{Backend: be, MaxSessions: 8})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections() // the page's event stream
		ts.Close()
		srv.Close()
		be.Close()
	})

	// Cleanups run last first: the tab, then the browser (whose cancel waits
	// for the process to exit), then the profile folder, then the server.
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second) // the whole test
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}

	// Collect the page's uncaught exceptions and console.error calls (they
	// fail the test) and the browser's own errors and warnings (logged).
	var mu sync.Mutex
	var pageErrors, browserLog []string
	consoleCtx, stopConsole := context.WithCancel(tab)
	messages := chromedp.Console(consoleCtx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			switch {
			case m.IsException(), m.Type == chromedp.ConsoleError && m.Source == "":
				pageErrors = append(pageErrors, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, m.Text))
			case m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning:
				browserLog = append(browserLog, fmt.Sprintf("%s: %s", m.Type, m.Text))
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stopConsole()
		<-consoleDone
		for _, e := range browserLog {
			t.Logf("browser %s", e)
		}
		for _, e := range pageErrors {
			t.Errorf("page error: %s", e)
		}
	})

	p := &pageDriver{t: t, ctx: tab}
	p.do(10*time.Second, chromedp.Navigate(ts.URL+"/"))
	p.waitJS(10*time.Second, "first session", `document.body.dataset.ready === "true"`)

	// --- a. the playground. Each change of the model makes a new session
	// and deletes the old one.
	p.do(5*time.Second, chromedp.Click(chromedp.CSS("#add-layer")))
	p.waitJS(10*time.Second, "a third hidden layer", `document.body.dataset.ready === "true" &&
		document.querySelector("#layer-count").textContent === "3" &&
		document.querySelectorAll("#neuron-controls .neuron-control").length === 3`)
	p.do(5*time.Second, chromedp.Click(chromedp.CSS(`#neuron-controls .neuron-add[data-layer="2"]`)))
	p.waitJS(10*time.Second, "a third neuron in layer 3", `document.body.dataset.ready === "true" &&
		document.querySelectorAll("#neuron-controls .neuron-count")[2].textContent === "3 neurons"`)
	p.do(5*time.Second, chromedp.Click(chromedp.CSS("#remove-layer")))
	p.waitJS(10*time.Second, "back to two hidden layers", `document.body.dataset.ready === "true" &&
		document.querySelector("#layer-count").textContent === "2"`)

	// xor: play, the loss falls, the boundary moves.
	p.setValue("#dataset", "xor")
	p.waitJS(10*time.Second, "xor session", `document.body.dataset.ready === "true" && document.body.dataset.dataset === "xor"`)
	for deadline := time.Now().Add(5 * time.Second); srv.Sessions() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions on the server after four changes of the model, want 1 (the page deletes the old one)", srv.Sessions())
		}
	}
	p.waitJS(10*time.Second, "first state", `/^[0-9.]+$/.test(document.querySelector("#train-loss").textContent)`)
	firstLoss := p.number("#train-loss")
	early := evalJS[string](p, `document.querySelector("#boundary").toDataURL()`)
	t.Logf("epoch %s, first train loss %.4f", p.text("#epoch"), firstLoss)

	p.do(5*time.Second, chromedp.Click(chromedp.CSS("#play")))
	p.waitJS(20*time.Second, "training to lower the train loss", fmt.Sprintf(
		`(() => {
			const epoch = Number(document.querySelector("#epoch").textContent);
			const loss = Number(document.querySelector("#train-loss").textContent);
			return epoch > 0 && loss < %v;
		})()`, firstLoss))
	later := evalJS[string](p, `document.querySelector("#boundary").toDataURL()`)
	shown := p.text("#epoch") + ", train loss " + p.text("#train-loss")
	t.Logf("epoch %s", shown)
	if early == later {
		t.Errorf("the #boundary canvas did not change between epoch 0 and epoch %s", shown)
	}
	if !strings.HasPrefix(later, "data:image/png;base64,") || len(later) < 2000 {
		t.Errorf("#boundary holds no picture: %.60q (%d bytes)", later, len(later))
	}
	if n := evalJS[int](p, `(() => { const c = document.querySelector("#loss-curve");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 160) dark++; return dark; })()`); n == 0 {
		t.Error("the #loss-curve canvas has no line on it")
	}
	if axes := evalJS[string](p, `document.querySelector("#loss-curve").dataset.axes || ""`); !strings.HasPrefix(axes, "epoch ") || !strings.Contains(axes, ", loss 0..") {
		t.Errorf("the #loss-curve canvas has no axes: %q", axes)
	}
	p.do(5*time.Second, chromedp.Click(chromedp.CSS("#pause")))
	p.waitJS(5*time.Second, "pause", `document.body.dataset.playing === "false"`)

	// --- c. gradient flow: deep sigmoid vanishes, relu + residual does not.
	p.runGradflow("sigmoid", 10, false)
	if n := evalJS[int](p, `document.querySelectorAll("#gradflow-table tbody tr.vanishing").length`); n == 0 {
		t.Errorf("sigmoid, depth 10: no vanishing row in #gradflow-table:\n%s", p.text("#gradflow-table"))
	}
	if n := evalJS[int](p, `document.querySelectorAll("#gradflow-table tbody tr").length`); n != 11 {
		t.Errorf("depth 10: #gradflow-table has %d rows, want 11 (10 hidden layers and the output)", n)
	}
	p.runGradflow("relu", 10, true)
	if n := evalJS[int](p, `document.querySelectorAll("#gradflow-table tbody tr.vanishing").length`); n != 0 {
		t.Errorf("relu with residual connections, depth 10: %d vanishing rows:\n%s", n, p.text("#gradflow-table"))
	}
	if n := evalJS[int](p, `document.querySelectorAll("#gradflow-table tbody tr.normal").length`); n == 0 {
		t.Errorf("relu with residual connections: no normal row:\n%s", p.text("#gradflow-table"))
	}

	// --- b. forward propagation: moving x1 changes the output.
	p.waitJS(5*time.Second, "forward output", `document.querySelector("#forward-output").textContent.includes("σ(")`)
	before := p.text("#forward-output")
	p.do(5*time.Second, chromedp.ScrollIntoView(chromedp.CSS("#x1")))
	p.setValue("#x1", evalJS[string](p, `(() => { const el = document.querySelector("#x1");
		return String(Number(el.min) + 0.85 * (Number(el.max) - Number(el.min))); })()`))
	p.waitJS(5*time.Second, "forward output to follow x1",
		fmt.Sprintf(`document.querySelector("#forward-output").textContent !== %s`, jsString(before)))
	t.Logf("forward: %s", p.text("#forward-output .fwd-equation"))

	// --- the picture for the README, with the classic vanishing gradients.
	p.runGradflow("sigmoid", 10, false)
	p.do(2*time.Second, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	shot := runAction(p, 10*time.Second, chromedp.FullScreenshot(100))
	out := os.Getenv("FASTNN_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "playground.png")
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes); the test took %.1f s", out, len(shot), time.Since(begin).Seconds())
}

// pageDriver runs bounded steps against one tab and fails the test on error.
type pageDriver struct {
	t   *testing.T
	ctx context.Context
}

func (p *pageDriver) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

func runAction[T any](p *pageDriver, timeout time.Duration, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

func evalJS[T any](p *pageDriver, expr string) T {
	p.t.Helper()
	return runAction(p, 10*time.Second, chromedp.Evaluate[T](expr))
}

func (p *pageDriver) text(sel string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`document.querySelector(%s).textContent`, jsString(sel)))
}

func (p *pageDriver) number(sel string) float64 {
	p.t.Helper()
	s := p.text(sel)
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		p.t.Fatalf("%s shows %q, not a number", sel, s)
	}
	return v
}

// setValue sets a control as a user would: the value, then input and change.
func (p *pageDriver) setValue(sel, value string) {
	p.t.Helper()
	evalJS[chromedp.Void](p, fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		el.value = %s;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, jsString(sel), jsString(value)))
}

// setChecked clicks a checkbox when its state is not the wanted one.
func (p *pageDriver) setChecked(sel string, on bool) {
	p.t.Helper()
	if evalJS[bool](p, fmt.Sprintf(`document.querySelector(%s).checked`, jsString(sel))) != on {
		p.do(5*time.Second, chromedp.Click(chromedp.CSS(sel)))
	}
}

// waitJS polls a JavaScript condition until it holds or the timeout ends.
func (p *pageDriver) waitJS(timeout time.Duration, what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
			defer cancel()
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
				epoch: document.querySelector("#epoch").textContent,
				trainLoss: document.querySelector("#train-loss").textContent,
				body: Object.assign({}, document.body.dataset),
				status: document.querySelector("#status").textContent})`))
			p.t.Fatalf("waited %v for %s (%s): err %v; page %s", timeout, what, cond, err, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runGradflow sets the gradient-flow controls, presses the button and waits
// for the table to show that configuration.
func (p *pageDriver) runGradflow(act string, depth int, residual bool) {
	p.t.Helper()
	p.setValue("#gf-act", act)
	p.setValue("#gf-depth", strconv.Itoa(depth))
	p.setValue("#gf-scale", "1")
	p.setChecked("#gf-residual", residual)
	p.do(5*time.Second, chromedp.Click(chromedp.CSS("#gf-run")))
	p.waitJS(15*time.Second, fmt.Sprintf("gradient flow of %s, depth %d, residual %v", act, depth, residual),
		fmt.Sprintf(`(() => { const d = document.querySelector("#gradflow-table").dataset;
			return d.busy === "false" && d.act === %s && d.depth === "%d" && d.residual === "%v"; })()`,
			jsString(act), depth, residual))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
