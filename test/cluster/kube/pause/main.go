// Command pause is the pod sandbox's process: it holds the pod's namespaces open, reaps the
// children it inherits as PID 1 of a shared process namespace, and exits on SIGINT or SIGTERM.
// Built static (CGO_ENABLED=0) into a one-file image, since no registry can serve the real one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
