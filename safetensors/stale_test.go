package safetensors

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKilledWriteLeavesNoTempBehind: a process killed with SIGKILL while
// WriteFile writes leaves its temporary file; the next WriteFile of the
// same path removes it, and nothing else.
func TestKilledWriteLeavesNoTempBehind(t *testing.T) {
	if path := os.Getenv("SAFETENSORS_KILLED_WRITER"); path != "" {
		killedWriter(path) // the child: never returns
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriteLeavesNoTempBehind$")
		cmd.Env = append(os.Environ(), "SAFETENSORS_KILLED_WRITER="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		cmd.Process.Kill() // SIGKILL in the middle of the write
		cmd.Wait()
		if line != "writing\n" {
			t.Fatalf("the child said %q", line)
		}
	}
	others := []string{".m.safetensors.tmpx", ".m.safetensors.tmp", "m.safetensors.tmp12", ".n.safetensors.tmp12", ".m.safetensors.tmp12.keep"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	temps := func() (n int) {
		for _, name := range entries(t, dir) {
			if strings.HasPrefix(name, ".m.safetensors.tmp") && !slices.Contains(others, name) {
				n++
			}
		}
		return n
	}
	// Each killed write leaves its temporary file; each write removes
	// those before it.
	if n := temps(); n != 1 {
		t.Fatalf("%d temporary files after 3 killed writes, want 1: %v", n, entries(t, dir))
	}
	if err := WriteFile(path, []Tensor{F32("w", []int{2}, []float32{1, 2})}, nil); err != nil {
		t.Fatal(err)
	}
	if n := temps(); n != 0 {
		t.Errorf("%d stale temporary files left after the next write: %v", n, entries(t, dir))
	}
	for _, name := range others {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s, not a temporary file of this path, was removed", name)
		}
	}
}

// killedWriter writes a file to path and, once part of it is written,
// says so on stdout and waits to be killed.
func killedWriter(path string) {
	wrapFileWriter = func(w io.Writer) io.Writer { return stallingWriter{w} }
	WriteFile(path, []Tensor{F32("w", []int{1 << 16}, make([]float32, 1<<16))}, nil)
	os.Exit(1) // not reached
}

type stallingWriter struct{ w io.Writer }

func (s stallingWriter) Write(p []byte) (int, error) {
	s.w.Write(p)
	os.Stdout.WriteString("writing\n")
	time.Sleep(time.Hour)
	return 0, io.ErrShortWrite // not reached
}
