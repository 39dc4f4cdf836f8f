// Package benchproc holds what the benchmark commands share for running
// the programs they measure: a scratch directory, running a command to
// its end, and waiting for a port. The commands are tools run by hand, so
// a failure ends them with log.Fatal.
package benchproc

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Dirs resolves the binary directory bin to an absolute path and returns
// the scratch directory: work, or a new temporary one when work is empty.
// Call cleanup when done; it removes only a directory Dirs made.
func Dirs(bin, work, pattern string) (absBin, workDir string, cleanup func()) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		log.Fatal(err)
	}
	if work != "" {
		return abs, work, func() {}
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		log.Fatal(err)
	}
	return abs, d, func() { os.RemoveAll(d) }
}

// Run runs name to its end with its standard output going to ours unless
// quiet, and its errors always to ours.
func Run(quiet bool, name string, args ...string) {
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if quiet {
		c.Stdout = nil
	}
	if err := c.Run(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

// WaitPort waits until something accepts TCP connections on addr, at most
// within.
func WaitPort(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, within)
}

// MustWaitPort is WaitPort for a minute, fatal on failure.
func MustWaitPort(addr string) {
	if err := WaitPort(addr, time.Minute); err != nil {
		log.Fatal(err)
	}
}
