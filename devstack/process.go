package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// procSpec says how to start one process of the stack.
type procSpec struct {
	name    string   // log name: "placement", "actors", "actors-daprd", ...
	path    string   // executable
	args    []string // without argv[0]
	dir     string   // working directory; empty: current
	env     []string // complete environment
	logPath string
	console io.Writer // optional extra destination for output, already line-prefixed
}

// process is one running child. It runs in its own process group, so that
// signals reach whatever it forks, and dies with the parent (Pdeathsig).
// Safe for concurrent use.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // exit status; read only after done is closed

	// stopping is set before devstack signals the process itself, so that its
	// exit is not reported as unexpected.
	stopping atomic.Bool
}

func startProcess(spec procSpec) (*process, error) {
	if err := os.MkdirAll(filepath.Dir(spec.logPath), 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	logFile, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	fmt.Fprintf(logFile, "\n===== devstack: %s starting %s at %s: %s %s\n",
		time.Now().Format(time.RFC3339), spec.name, spec.dir, spec.path, strings.Join(spec.args, " "))

	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = spec.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out io.Writer = logFile
	if spec.console != nil {
		out = io.MultiWriter(logFile, spec.console)
		cmd.WaitDelay = 2 * time.Second // a grandchild holding the pipe must not block Wait
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logFile, "===== devstack: %s failed to start: %v\n", spec.name, err)
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", spec.name, spec.path, err)
	}
	p := &process{name: spec.name, logPath: spec.logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(logFile, "===== devstack: %s exited at %s: %v\n", spec.name, time.Now().Format(time.RFC3339), exitStatus(p.err))
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process group of p, whose ID is p's PID.
func (p *process) signalGroup(sig syscall.Signal) {
	_ = syscall.Kill(-p.pid(), sig)
}

// stop sends SIGTERM to the group and SIGKILL after grace (or when ctx is
// done), then waits for the process to be reaped. A process that has exited
// already is left alone: its PID, and so its group ID, may belong to another
// process by now.
func (p *process) stop(ctx context.Context, grace time.Duration) {
	p.stopping.Store(true)
	if p.exited() {
		return
	}
	p.signalGroup(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	p.sweep()
}

// kill sends SIGKILL to the group and waits for the process to be reaped.
func (p *process) kill() {
	p.stopping.Store(true)
	if p.exited() {
		return
	}
	p.sweep()
}

// sweep kills the group, waits for the leader, then kills what the leader
// forked meanwhile (the group outlives its leader while members remain).
func (p *process) sweep() {
	p.signalGroup(syscall.SIGKILL)
	<-p.done
	p.signalGroup(syscall.SIGKILL)
}

// exitError describes an exit of p with the tail of its log.
func (p *process) exitError(what string) error {
	return fmt.Errorf("%s %s: %s\n%s", p.name, what, exitStatus(p.err), logTail(p.logPath, tailLines))
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

const tailLines = 30

// logTail returns the last n lines of the log at path, framed for an error
// message.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	// Logs can be large: read only the end.
	const maxTail = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxTail {
		if _, err := f.Seek(-maxTail, io.SeekEnd); err != nil {
			return fmt.Sprintf("(read log: %v)", err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n%s\n---", len(lines), path, strings.Join(lines, "\n"))
}

// consoleWriter serialises whole lines from several processes onto one
// writer. Safe for concurrent use.
type consoleWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// prefixed returns a writer that prefixes each line with "name | ". Each
// returned writer must be used by one process only (exec copies output from
// a single goroutine).
func (c *consoleWriter) prefixed(name string) io.Writer {
	return &linePrefixer{c: c, prefix: []byte(name + " | ")}
}

type linePrefixer struct {
	c       *consoleWriter
	prefix  []byte
	partial []byte
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	n := len(b)
	l.partial = append(l.partial, b...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		out.Write(l.prefix)
		out.Write(l.partial[:i+1])
		l.partial = l.partial[i+1:]
	}
	const maxPartial = 64 << 10
	if len(l.partial) > maxPartial { // an endless line: flush it anyway
		out.Write(l.prefix)
		out.Write(l.partial)
		out.WriteByte('\n')
		l.partial = l.partial[:0]
	}
	if out.Len() == 0 {
		return n, nil
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if _, err := l.c.w.Write(out.Bytes()); err != nil {
		// The console is a courtesy; never fail the process's output for it.
		return n, nil
	}
	return n, nil
}
