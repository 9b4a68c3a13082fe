package experiment_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/internal/experiment"
	"github.com/fastnn/fastnn/nn"
)

// irisRun is a short training run with the presets, as `train -data iris` makes it.
func irisRun(epochs int) experiment.Config {
	return experiment.Config{Data: "iris", Epochs: epochs, Batch: -1, ValFrac: -1, TestFrac: -1, Noise: -1, WD: -1,
		Seed: 1, Backend: "cpu", Threads: 1}
}

// limitFileSize makes writes beyond n bytes fail with "file too large"
// (EFBIG, as a full disk fails them with ENOSPC) until the returned
// function restores the limit. Tests run as root, whom permission bits do
// not stop; the file size limit stops everyone.
func limitFileSize(t *testing.T, n uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: old.Max}); err != nil {
		t.Skip(err)
	}
	restored := false
	restore = func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

// TestUnwritableOutputsFoundFirst: a checkpoint or plot folder that cannot
// be written is reported before the first epoch, not after the run.
func TestUnwritableOutputsFoundFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("a regular file"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		save     string
		plots    string
		fileSize uint64 // > 0: limit the size of written files (a full disk)
		says     string
	}{
		{"save: parent is a file", filepath.Join(file, "m.safetensors"), "", 0, "-save"},
		{"save: missing folder", filepath.Join(dir, "absent", "m.safetensors"), "", 0, "-save"},
		{"save: not a regular file", fifo, "", 0, "not a regular file"},
		{"save: disk full", filepath.Join(dir, "m.safetensors"), "", 256, "file too large"},
		{"plots: parent is a file", "", filepath.Join(file, "plots"), 0, "-plots"},
		{"plots: disk full", "", filepath.Join(dir, "plots"), 256, "file too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := irisRun(3)
			cfg.Save, cfg.PlotsDir = c.save, c.plots
			epochs := 0
			cfg.OnEpoch = func(nn.EpochStats) { epochs++ }
			restore := func() {}
			if c.fileSize > 0 {
				restore = limitFileSize(t, c.fileSize)
			}
			_, err := experiment.Run(context.Background(), cfg)
			restore()
			if err == nil || !strings.Contains(err.Error(), c.says) || epochs > 0 {
				t.Errorf("error %v after %d epochs; want one naming %q before the first epoch", err, epochs, c.says)
			}
		})
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO given to -save was replaced: %v %v", fi, err)
	}
}

// TestFailedSaveStopsRun: when the disk fills during training, the failed
// checkpoint write stops the run with the error, and the file keeps the
// last epoch that was written.
func TestFailedSaveStopsRun(t *testing.T) {
	dir := t.TempDir()
	cfg := irisRun(10)
	cfg.Save = filepath.Join(dir, "m.safetensors")
	var last []byte
	restore, epochs := func() {}, 0
	cfg.OnEpoch = func(st nn.EpochStats) {
		epochs = st.Epoch
		if st.Epoch == 2 {
			var err error
			if last, err = os.ReadFile(cfg.Save); err != nil {
				t.Fatal(err)
			}
			restore = limitFileSize(t, 1024) // smaller than a checkpoint
		}
	}
	_, err := experiment.Run(context.Background(), cfg)
	restore()
	if err == nil || !strings.Contains(err.Error(), "writing epoch 3 failed") || !strings.Contains(err.Error(), "holds epoch 2") {
		t.Fatalf("error %v; want the failed write of epoch 3 and epoch 2 kept", err)
	}
	if epochs != 3 {
		t.Errorf("training went on to epoch %d after the write of epoch 3 failed", epochs)
	}
	if now, _ := os.ReadFile(cfg.Save); !bytes.Equal(now, last) {
		t.Error("the checkpoint of epoch 2 was changed")
	}
	load := irisRun(1)
	load.Load = cfg.Save
	if _, err := experiment.Run(context.Background(), load); err != nil {
		t.Errorf("the kept checkpoint does not load: %v", err)
	}
}
