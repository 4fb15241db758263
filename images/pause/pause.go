// Command pause is the sandbox ("pause") container of the test node: it holds a pod's
// namespaces open, reaps the orphans that end up as its children, and exits on SIGTERM or
// SIGINT. Nothing can be pulled on the test machines, so the harness builds this and imports
// it as containerd's sandbox image instead of registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every child that has exited; a pause process may inherit many.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
