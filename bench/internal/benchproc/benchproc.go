// Package benchproc holds what the benchmark commands share for running
// the programs they measure: a scratch directory, running a command to
// its end, starting and stopping programs, and waiting for a port. The commands are tools run by hand, so
// a failure ends them with log.Fatal.
package benchproc

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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

// Procs are the programs a benchmark started; StopAll stops them.
type Procs struct{ cmds []*exec.Cmd }

// Start starts name with env added to our environment, its standard
// output discarded and its errors written to stderr (nil: discarded).
func (p *Procs) Start(stderr io.Writer, env []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = io.Discard, io.Discard
	if stderr != nil {
		c.Stderr = stderr
	}
	if err := c.Start(); err != nil {
		log.Fatalf("start %s: %v", name, err)
	}
	p.cmds = append(p.cmds, c)
	return c
}

// StopAll stops every program started and not stopped yet, in the order
// they were started.
func (p *Procs) StopAll() {
	for _, c := range p.cmds {
		Stop(c)
	}
	p.cmds = nil
}

// Stop sends c SIGTERM and waits for it to end. Stopping a program twice
// is harmless.
func Stop(c *exec.Cmd) {
	if c.ProcessState != nil {
		return
	}
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
}

// LogFile creates the file path for a program's output. The caller may
// close it once the program has started: the program has its own
// descriptor.
func LogFile(path string) *os.File {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	return f
}
