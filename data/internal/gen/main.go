// Command gen compresses the built-in CSV tables into data/builtin, the
// files that package data embeds. It is run by go generate in package
// data:
//
//	FASTNN_DATASETS=<folder with the source CSVs> go generate ./data
//
// Each table is written with Go's compress/gzip at BestCompression, with
// an empty file name and a zero time stamp in the gzip header, so the
// output depends only on the CSV bytes and the Go release (whose deflate
// encoder could, in principle, change). The SHA-256 printed for each
// source CSV is the one package data's tests check the decompressed
// embedded file against, so a rebuild with another Go release can be
// verified even if its compressed bytes differ.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tables are the source files, by name in the source folder.
var tables = []string{
	"boston_house_prices.csv",
	"breast_cancer.csv",
	"diabetes.csv",
	"digits.csv",
	"iris.csv",
	"wine.csv",
}

func main() {
	src := flag.String("src", "", "folder holding the source CSV files")
	dst := flag.String("dst", "builtin", "folder to write the .csv.gz files to")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "gen: -src is empty: set FASTNN_DATASETS to the folder holding the source CSVs (see data/builtin/README.md)")
		os.Exit(2)
	}
	for _, name := range tables {
		if err := compress(filepath.Join(*src, name), filepath.Join(*dst, name+".gz")); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

func compress(srcPath, dstPath string) error {
	raw, err := os.ReadFile(srcPath)
	if err != nil {
		return err
	}
	// A cheap sanity check that the file is the expected kind: text with a
	// header line. Package data's tests check the shapes in detail.
	if i := bytes.IndexByte(raw, '\n'); i < 0 || !strings.Contains(string(raw[:i]), ",") {
		return fmt.Errorf("%s: no comma-separated header line", srcPath)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(dstPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s  %x  %d -> %d bytes\n", filepath.Base(srcPath), sha256.Sum256(raw), len(raw), buf.Len())
	return nil
}
