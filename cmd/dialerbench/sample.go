package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	at    time.Time
	cpu   time.Duration // user + system
	rss   int64         // bytes
	hwm   int64         // peak resident set, bytes (VmHWM)
	valid bool
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) procSample {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s
	}
	// The command name is in parentheses and may hold spaces: fields
	// count from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s
	}
	s.cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s
	}
	for line := range strings.Lines(string(status)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb := func() int64 {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			return n << 10
		}
		switch name {
		case "VmRSS":
			s.rss = kb()
		case "VmHWM":
			s.hwm = kb()
		}
	}
	s.valid = true
	return s
}

// procWatch samples a process every interval until stopped.
type procWatch struct {
	mu      sync.Mutex
	samples []procSample
	stop    chan struct{}
	done    chan struct{}
}

func watchProc(pid int, interval time.Duration) *procWatch {
	w := &procWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if s := readProc(pid); s.valid {
				w.mu.Lock()
				w.samples = append(w.samples, s)
				w.mu.Unlock()
			}
			select {
			case <-t.C:
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

// finish stops sampling and returns the samples.
func (w *procWatch) finish() []procSample {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples
}

// cpuUse is the CPU a process used between two samples, as a percentage
// of one core.
func cpuUse(a, b procSample) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.cpu-a.cpu) / float64(wall)
}

// busiest is the highest CPU use over any window of about span.
func busiest(samples []procSample, span time.Duration) float64 {
	best := 0.0
	j := 0
	for i := range samples {
		for j < len(samples) && samples[j].at.Sub(samples[i].at) < span {
			j++
		}
		if j == len(samples) {
			break
		}
		best = max(best, cpuUse(samples[i], samples[j]))
	}
	return best
}

// between returns the first sample at or after from and the last at or
// before to.
func between(samples []procSample, from, to time.Time) (procSample, procSample, bool) {
	var a, b procSample
	for _, s := range samples {
		if !a.valid && !s.at.Before(from) {
			a = s
		}
		if !s.at.After(to) {
			b = s
		}
	}
	return a, b, a.valid && b.valid && b.at.After(a.at)
}

// loadAverage reads the 1, 5 and 15 minute load averages.
func loadAverage() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := range min(3, len(f)) {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// hostCPU is the whole machine's CPU time from /proc/stat, in USER_HZ
// ticks: busy (everything but idle and iowait) and total.
func hostCPU() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// watchLoad samples the 1-minute load average every second until the
// returned function is called; it returns the highest seen.
func watchLoad() (highest func() float64) {
	stop, done := make(chan struct{}), make(chan struct{})
	var top float64
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			top = max(top, loadAverage()[0])
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		return top
	}
}
