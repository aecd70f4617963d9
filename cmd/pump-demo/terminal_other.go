//go:build !linux && !darwin

package main

import "os/exec"

type terminal struct{}

// takeTerminal has nothing to do here: Ctrl-C reaches the pump too.
func takeTerminal() *terminal { return nil }

func (*terminal) restore() {}

func ownProcessGroup(*exec.Cmd) {}
