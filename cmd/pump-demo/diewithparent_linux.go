package main

import "syscall"

// dieWithParent ends the pump with the demo, should the demo be killed:
// nothing else would stop it.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
