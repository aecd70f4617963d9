package main

import "syscall"

// dieWithParent has no equivalent here: a killed demo leaves its pump to
// the user.
func dieWithParent(*syscall.SysProcAttr) {}
