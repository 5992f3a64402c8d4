package sip

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRTPSenders plays a one-second recording on 1000 calls at once
// to a local sink, as a campaign with 1000 calls up does, and reports the
// process CPU per RTP packet sent.
func BenchmarkRTPSenders(b *testing.B) {
	const calls = 1000
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	_ = sink.SetReadBuffer(8 << 20)
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	samples := make([]int16, 8000) // 1 s: 50 packets
	ans := mediaAnswer{addr: sink.LocalAddr().(*net.UDPAddr), audio: codec{name: "PCMU", pt: 0}, eventPT: -1}
	sender := newRTPSender()
	defer sender.close()
	var cpu time.Duration
	packets := 0
	for b.Loop() {
		sessions := make([]*mediaSession, calls)
		for i := range sessions {
			m, err := openMedia(net.IPv4(127, 0, 0, 1), sender)
			if err != nil {
				b.Fatal(err)
			}
			sessions[i] = m
		}
		before := processCPU()
		played := make([]<-chan struct{}, calls)
		for i, m := range sessions {
			played[i] = m.play(ans, samples, true)
		}
		for _, p := range played {
			<-p
		}
		cpu += processCPU() - before
		packets += calls * len(samples) / samplesPerPacket
		for _, m := range sessions {
			m.close()
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(packets), "cpu-µs/packet")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
