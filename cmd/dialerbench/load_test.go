package main

import (
	"strings"
	"testing"
)

func TestParseUDPDrops(t *testing.T) {
	const udp = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41233 2 0000000000000000 0
  413: 0100007F:C383 00000000:0000 07 00000000:0002A300 00:00000000 00000000     0        0 41234 2 0000000000000000 175
`
	if d, q, ok := parseUDPDrops(strings.NewReader(udp), 0xC383); !ok || d != 175 || q != 0x2A300 {
		t.Errorf("port 0xC383: drops %d, queue %d, %v; want 175, %d", d, q, ok, 0x2A300)
	}
	if _, _, ok := parseUDPDrops(strings.NewReader(udp), 5061); ok {
		t.Error("found a socket on a port nobody holds")
	}
}

func TestLoadMixWeights(t *testing.T) {
	total, writes := 0, 0
	for _, o := range loadMix() {
		total += o.weight
		if strings.HasPrefix(o.name, "POST") || strings.HasPrefix(o.name, "PUT") {
			writes += o.weight
		}
	}
	if total != 100 || writes < 10 || writes > 20 {
		t.Errorf("weights total %d, writes %d: the mix is meant as percentages with 10-20 %% writes", total, writes)
	}
}
