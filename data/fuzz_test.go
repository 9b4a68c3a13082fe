package data

import (
	"bytes"
	"compress/gzip"
	"math"
	"strings"
	"testing"
)

// FuzzReadIDX: no input panics, and whatever is accepted is consistent:
// the element count matches the dimensions, and allocation stays bounded by
// the input (ReadIDX checks the claimed size against what it reads).
func FuzzReadIDX(f *testing.F) {
	var good bytes.Buffer
	if err := WriteIDX(&good, &IDX{Dims: []int{2, 3, 2}, Data: []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(good.Bytes())
	w.Close()
	f.Add(gz.Bytes())
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 9, 1, 0, 0, 0, 1, 1})
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range m.Dims {
			if d <= 0 {
				t.Fatalf("accepted dimension %d", d)
			}
			n *= d
		}
		if n != len(m.Data) {
			t.Fatalf("dims %v but %d elements", m.Dims, len(m.Data))
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) && len(m.Data) > len(b) {
			t.Fatalf("%d elements from %d raw bytes", len(m.Data), len(b))
		}
	})
}

// FuzzReadCSV: no input panics, and an accepted data set validates.
func FuzzReadCSV(f *testing.F) {
	f.Add("a,b,y\n1,2,0\n3,4,1\n", "")
	f.Add("x,t\n1.5,2\n2.5,3\n", "t")
	f.Add("a,b,y\n1,2\n", "")
	f.Add("a,b,y\n1,x,0\n", "y")
	f.Add("a,b,y\n1,NaN,0\n", "1")
	f.Add("\xef\xbb\xbfa,y\n1,0\n2,1\n", "")
	f.Add("", "")
	f.Add("y\n0\n", "")
	f.Fuzz(func(t *testing.T, text, target string) {
		for _, task := range []Task{Classification, Regression, TaskAuto} {
			d, err := ReadCSV(strings.NewReader(text), "fuzz", CSVOptions{Target: target, Task: task})
			if err != nil {
				continue
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted a data set that does not validate: %v", err)
			}
			for _, v := range d.X {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("accepted a non-finite feature")
				}
			}
		}
	})
}
