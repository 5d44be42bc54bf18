package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the CPU time used so far by each process of interest: the
// stack's processes by name, PostgreSQL's backends together, and loadgen.
type cpuSample map[string]time.Duration

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat times
// (100 on every Linux this runs on).
const clockTick = 100

func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick, true
}

// sampleCPU reads /proc (Linux only; elsewhere it returns nothing). Backends
// that end between two samples are not counted: the stack's pools keep
// theirs open.
func (b *bench) sampleCPU() cpuSample {
	out := cpuSample{}
	for name, pid := range b.stack.PIDs() {
		if d, ok := procCPU(pid); ok {
			out[name] += d
		}
	}
	if d, ok := procCPU(os.Getpid()); ok {
		out["loadgen"] = d
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(string(cmd), "postgres") {
			continue
		}
		if d, ok := procCPU(pid); ok {
			out["postgres"] += d
		}
	}
	return out
}

// perOp formats the CPU each process spent per operation between two
// samples, largest first.
func perOp(before, after cpuSample, ops int) string {
	type share struct {
		name string
		d    time.Duration
	}
	var shares []share
	var total time.Duration
	for name, d := range after {
		if used := d - before[name]; used > 0 {
			shares = append(shares, share{name, used})
			total += used
		}
	}
	if ops == 0 || total == 0 {
		return "no CPU time measured (not Linux?)"
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].d > shares[j].d })
	parts := make([]string, 0, len(shares))
	for _, s := range shares {
		parts = append(parts, fmt.Sprintf("%s %.2f", s.name, float64(s.d.Microseconds())/1000/float64(ops)))
	}
	return fmt.Sprintf("%.2f ms of CPU per operation: %s", float64(total.Microseconds())/1000/float64(ops), strings.Join(parts, ", "))
}
