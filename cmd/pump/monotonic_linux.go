package main

import (
	"strconv"

	"golang.org/x/sys/unix"
)

func monotonicUsec() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return strconv.FormatInt(ts.Sec*1_000_000+ts.Nsec/1000, 10)
}
