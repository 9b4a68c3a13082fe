//go:build !linux

package main

import (
	"errors"
	"time"
)

func threadCPUTime() (time.Duration, error) {
	return 0, errors.New("-clock thread needs Linux")
}
