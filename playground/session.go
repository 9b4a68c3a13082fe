package playground

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

const (
	gridSize       = 50                    // the boundary heat map is gridSize x gridSize
	snapshotEvery  = 50 * time.Millisecond // at most 20 state snapshots a second
	historyLen     = 300                   // loss-curve points kept
	trainSliceTime = 30 * time.Millisecond // training runs in slices so others get the backend
	epochsPerSlice = 5                     // per snapshotEvery: at most 100 epochs a second, slow enough to watch
)

// State is what the page draws; see API.md.
type State struct {
	Epoch     int          `json:"epoch"`
	Playing   bool         `json:"playing"`
	TrainLoss float64      `json:"trainLoss"`
	TestLoss  float64      `json:"testLoss"`
	History   [][3]float64 `json:"history"`
	Grid      Grid         `json:"grid"`
	Layers    []LayerState `json:"layers"`
}

// Grid is the model's probability of class 1 over the plane.
type Grid struct {
	N      int        `json:"n"`
	Bounds [4]float64 `json:"bounds"`
	P      []float32  `json:"p"`
}

// LayerState holds one Linear layer's weights (out x in) and biases.
type LayerState struct {
	In      int         `json:"in"`
	Out     int         `json:"out"`
	Weights [][]float32 `json:"weights"`
	Bias    []float32   `json:"bias"`
}

// session is one page's network: its data, model and training loop. The
// loop goroutine trains while playing; handlers read the latest snapshot,
// so a slow client never holds training back.
type session struct {
	id  string
	cfg Config
	be  backend.Backend

	train, test *data.Dataset
	bounds      [4]float64
	gridX       []float32 // the grid's points, row-major from the top

	mu       sync.Mutex // guards everything below and the model's buffers
	model    *nn.Sequential
	tr       *nn.Trainer
	epoch    int
	playing  bool
	history  [][3]float64
	snapshot []byte // the latest State as JSON
	version  int    // bumped with each snapshot
	lastSeen time.Time
	streams  int
	closed   bool // the model is freed: requests that still hold the session get errGone

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newSession(id string, cfg Config, be backend.Backend) (*session, error) {
	rng := nn.NewRNG(cfg.Seed)
	all := datasets[cfg.Dataset](cfg.Samples, cfg.Noise, rng)
	train, _, test, err := data.Split(all, rng, 0, cfg.Test)
	if err != nil {
		return nil, err
	}
	s := &session{id: id, cfg: cfg, be: be, train: train, test: test, lastSeen: time.Now(),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	s.bounds = dataBounds(all)
	s.gridX = make([]float32, 0, 2*gridSize*gridSize)
	for i := 0; i < gridSize; i++ {
		y := s.bounds[3] - (float64(i)+0.5)/gridSize*(s.bounds[3]-s.bounds[2])
		for j := 0; j < gridSize; j++ {
			x := s.bounds[0] + (float64(j)+0.5)/gridSize*(s.bounds[1]-s.bounds[0])
			s.gridX = append(s.gridX, float32(x), float32(y))
		}
	}
	if err := s.resetLocked(); err != nil {
		return nil, err
	}
	go s.loop()
	return s, nil
}

// dataBounds is the data's bounding box with a 10% margin.
func dataBounds(d *data.Dataset) [4]float64 {
	b := [4]float64{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)}
	for i := 0; i < d.N; i++ {
		x, y := float64(d.X[2*i]), float64(d.X[2*i+1])
		b[0], b[1], b[2], b[3] = math.Min(b[0], x), math.Max(b[1], x), math.Min(b[2], y), math.Max(b[3], y)
	}
	mx, my := 0.1*(b[1]-b[0])+1e-3, 0.1*(b[3]-b[2])+1e-3
	return [4]float64{b[0] - mx, b[1] + mx, b[2] - my, b[3] + my}
}

// errGone answers requests that reach a session being removed.
var errGone = errors.New("the session was closed")

// locked runs fn with the session locked, unless it was closed.
func (s *session) locked(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errGone
	}
	return fn()
}

// reset builds fresh weights (scaled by the config's weight scale) and
// pauses.
func (s *session) reset() error {
	return s.locked(s.resetLocked)
}

func (s *session) resetLocked() error {
	model, err := buildNet(s.be, s.cfg.Hidden, s.cfg.Act, s.cfg.Residual, s.cfg.WeightScale, s.cfg.Seed)
	if err != nil {
		return err
	}
	if s.model != nil {
		s.model.Free()
		s.tr.Free()
	}
	s.model = model
	s.tr = &nn.Trainer{Backend: s.be, Model: model, Loss: nn.BCEWithLogits{},
		Opt: nn.NewSGD(s.be, model.Params(), backend.SGDConfig{LR: float32(s.cfg.LR)})}
	s.epoch, s.playing, s.history = 0, false, nil
	return s.snap()
}

// buildNet makes a 2-input, 1-logit MLP whose weights are multiplied by
// scale (the gradient-flow view's weight-scale switch).
func buildNet(be backend.Backend, hidden []int, act string, residual bool, scale float64, seed uint64) (*nn.Sequential, error) {
	a, err := backend.ParseActivation(act)
	if err != nil {
		return nil, err
	}
	m, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: hidden, Out: 1, Act: a, Slope: 0.01, Residual: residual}, nn.NewRNG(seed))
	if err != nil {
		return nil, err
	}
	if scale != 1 {
		for _, p := range m.Params() {
			if len(p.Shape) == 2 { // weights, not biases
				be.Scale(p.Value, float32(scale), p.Len())
			}
		}
	}
	return m, nil
}

// loop trains while playing, in short slices, and snapshots the state.
func (s *session) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		playing := s.playing
		s.mu.Unlock()
		if !playing {
			select {
			case <-s.quit:
				return
			case <-s.wake:
				continue
			}
		}
		select {
		case <-s.quit:
			return
		default:
		}
		s.mu.Lock()
		start := time.Now()
		var err error
		for n := 0; n < epochsPerSlice && time.Since(start) < trainSliceTime && err == nil; n++ {
			err = s.epochLocked()
		}
		if err == nil {
			err = s.snap()
		}
		if err != nil {
			s.playing = false
		}
		s.mu.Unlock()
		// A slice of at most epochsPerSlice epochs starts every
		// snapshotEvery at most (100 epochs a second), and the lock is left
		// free for a while after each, for page requests and other sessions.
		time.Sleep(max(time.Until(start.Add(snapshotEvery)), snapshotEvery-trainSliceTime))
	}
}

// epochLocked trains one epoch; s.mu is held.
func (s *session) epochLocked() error {
	_, err := s.tr.Fit(context.Background(), s.train, nil, nn.TrainConfig{Epochs: 1, BatchSize: s.cfg.Batch, RNG: nn.NewRNG(s.cfg.Seed + uint64(s.epoch))})
	if err != nil {
		return err
	}
	s.epoch++
	return nil
}

// snap evaluates the model and stores the State as JSON; s.mu is held.
func (s *session) snap() error {
	st := State{Epoch: s.epoch, Playing: s.playing}
	trm, err := s.tr.Evaluate(s.train, 0)
	if err != nil {
		return err
	}
	tem, err := s.tr.Evaluate(s.test, 0)
	if err != nil {
		return err
	}
	st.TrainLoss, st.TestLoss = finite(trm.Loss), finite(tem.Loss)
	if n := len(s.history); n == 0 || s.history[n-1][0] != float64(s.epoch) {
		s.history = append(s.history, [3]float64{float64(s.epoch), st.TrainLoss, st.TestLoss})
	}
	if len(s.history) > historyLen { // keep every other point: the curve's shape, bounded size
		thin := s.history[:0]
		for i, h := range s.history {
			if i%2 == 0 || i == len(s.history)-1 {
				thin = append(thin, h)
			}
		}
		s.history = thin
	}
	st.History = s.history
	logits, err := s.tr.Predict(s.gridX, gridSize*gridSize)
	if err != nil {
		return err
	}
	st.Grid = Grid{N: gridSize, Bounds: s.bounds, P: make([]float32, len(logits))}
	for i, z := range logits {
		st.Grid.P[i] = float32(1 / (1 + math.Exp(-float64(z))))
	}
	for _, l := range linears(s.model) {
		w := make([]float32, l.In*l.Out)
		b := make([]float32, l.Out)
		s.be.Download(w, l.Weight.Value)
		s.be.Download(b, l.Bias.Value)
		ls := LayerState{In: l.In, Out: l.Out, Bias: finiteAll(b)}
		for o := 0; o < l.Out; o++ {
			ls.Weights = append(ls.Weights, finiteAll(w[o*l.In:(o+1)*l.In]))
		}
		st.Layers = append(st.Layers, ls)
	}
	blob, err := json.Marshal(st)
	if err != nil {
		return err
	}
	s.snapshot = blob
	s.version++
	return nil
}

// linears lists the Linear layers in forward order, also inside residual
// blocks.
func linears(m *nn.Sequential) []*nn.Linear {
	var out []*nn.Linear
	nn.Walk(m, func(l nn.Layer) {
		if lin, ok := l.(*nn.Linear); ok {
			out = append(out, lin)
		}
	})
	return out
}

// forward runs one point through the network and returns the input, every
// hidden layer's activations and the output probability.
func (s *session) forward(x1, x2 float32) ([][]float32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errGone
	}
	in := s.be.Alloc(2)
	defer s.be.Free(in)
	s.be.Upload(in, []float32{x1, x2})
	out := [][]float32{{x1, x2}}
	x := nn.Tensor{Buf: in, Rows: 1, Cols: 2}
	for i, l := range s.model.Layers {
		x = l.Forward(x, false)
		_, linear := l.(*nn.Linear)
		last := i == len(s.model.Layers)-1
		if linear && !last {
			continue // report after the activation, as the demo draws neurons
		}
		v := make([]float32, x.Cols)
		s.be.Download(v, x.Buf)
		if last {
			v[0] = float32(1 / (1 + math.Exp(-float64(v[0]))))
		}
		out = append(out, finiteAll(v))
	}
	return out, nil
}

// close stops the training loop and frees the model; requests that still
// hold the session then get errGone.
func (s *session) close() {
	close(s.quit)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.model.Free()
	s.tr.Free()
}

// control applies a page's play, pause, step or reset and returns the
// state snapshot.
func (s *session) control(action string) ([]byte, error) {
	var err error
	if action == "reset" {
		err = s.reset()
	} else {
		err = s.locked(func() error {
			switch action {
			case "play", "pause":
				s.playing = action == "play"
			case "step":
				s.playing = false
				if err := s.epochLocked(); err != nil {
					return err
				}
			}
			return s.snap()
		})
	}
	if err != nil {
		return nil, err
	}
	if action == "play" {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot, nil
}

// finite maps NaN and infinities (a diverged network) to values JSON can
// carry.
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return -1
	case math.IsInf(v, 1):
		return math.MaxFloat32
	case math.IsInf(v, -1):
		return -math.MaxFloat32
	}
	return v
}

func finiteAll(v []float32) []float32 {
	for i := range v {
		v[i] = float32(finite(float64(v[i])))
	}
	return v
}
