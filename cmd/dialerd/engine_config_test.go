package main

import (
	"strings"
	"testing"
	"time"
)

func TestEngineConfig(t *testing.T) {
	cfg, err := loadConfig([]string{"--engine.gateway", "memory", "--engine.provider_cps", "5"},
		envOf(map[string]string{"DIALERD_ENGINE_RING_TIMEOUT": "45s"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine.Gateway != "memory" || cfg.Engine.ProviderCPS != 5 || cfg.Engine.RingTimeout != 45*time.Second || cfg.Engine.TenantChannels != 100 {
		t.Fatalf("engine config %+v", cfg.Engine)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine.gateway", "carrier-pigeon"}, "engine.gateway"},
		{[]string{"--engine.node_cps", "0"}, "engine.node_cps"},
		{[]string{"--engine.tenant_channels", "-1"}, "engine.tenant_channels"},
		{[]string{"--engine.retry_delay", "0s"}, "engine.retry_delay"},
		{[]string{"--engine.send_wait", "never"}, "engine.send_wait"},
	} {
		if _, err := loadConfig(tc.args, envOf(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to name %s", tc.args, err, tc.want)
		}
	}
}
