package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// provider is one of GET /providers, the fields dialerctl shows.
type provider struct {
	ID          int64  `json:"provider_id"`
	Name        string `json:"name"`
	GatewayFlag int64  `json:"gateway_flag"`
	ServiceFlag int64  `json:"service_flag"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Active      int    `json:"active"`
	Health      string `json:"health"`
}

func (a *app) providersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "providers", Aliases: []string{"provider", "trunks"}, Short: "List providers and check trunk and node health"}
	cmd.AddCommand(
		&cobra.Command{Use: "ls", Short: "List the providers (trunks) you may see", Args: args(0),
			RunE: func(c *cobra.Command, _ []string) error { return a.listProviders(c.Context()) }},
		&cobra.Command{Use: "health", Short: "Trunk health and the daemon's readiness checks (FreeSWITCH nodes, store)",
			Long: `health shows each provider's health as its gateway sees it (up, down, or
unknown when no gateway watches it: SIP trunks are pinged with OPTIONS) and
every check of GET /readyz (the store, each FreeSWITCH node as esl:<id>, SIP
trunks, blocked campaigns). It exits 5 when a trunk is down or the daemon is
not ready.`,
			Args: args(0),
			RunE: func(c *cobra.Command, _ []string) error { return a.health(c.Context()) }},
	)
	return cmd
}

var gatewayNames = map[int64]string{1: "freeswitch", 2: "kannel", 4: "sendmail", 8: "sip"}

func services(flag int64) string {
	var s []string
	for _, f := range []struct {
		bit  int64
		name string
	}{{1, "voice"}, {2, "fax"}, {4, "sms"}, {8, "email"}} {
		if flag&f.bit != 0 {
			s = append(s, f.name)
		}
	}
	return strings.Join(s, ",")
}

func (a *app) providers(ctx context.Context, c *client) ([]provider, json.RawMessage, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/providers?per_page=1000", nil, &raw); err != nil {
		return nil, nil, err
	}
	var list []provider
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, nil, fmt.Errorf("GET /providers: %w", err)
	}
	return list, raw, nil
}

func (a *app) listProviders(ctx context.Context) error {
	c, err := a.client(true)
	if err != nil {
		return err
	}
	list, raw, err := a.providers(ctx, c)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return writeJSON(a.stdout, raw)
	}
	rows := make([][]string, len(list))
	for i, p := range list {
		host := p.Host
		if p.Port != 0 {
			host += ":" + strconv.Itoa(p.Port)
		}
		active := "yes"
		if p.Active == 0 {
			active = "no"
		}
		rows[i] = []string{strconv.FormatInt(p.ID, 10), p.Name, cmp.Or(gatewayNames[p.GatewayFlag], strconv.FormatInt(p.GatewayFlag, 10)),
			services(p.ServiceFlag), host, active, cmp.Or(p.Health, "unknown")}
	}
	return table(a.stdout, []string{"ID", "NAME", "GATEWAY", "SERVICES", "HOST", "ACTIVE", "HEALTH"}, rows)
}

// readiness is GET /readyz.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (a *app) health(ctx context.Context) error {
	c, err := a.client(true)
	if err != nil {
		return err
	}
	list, _, err := a.providers(ctx, c)
	if err != nil {
		return err
	}
	// /readyz answers 503 with the same body when not ready.
	var ready readiness
	err = c.do(ctx, http.MethodGet, "/readyz", nil, &ready)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
		ready.Status, err = "not ready", nil
		_ = json.Unmarshal(ae.Body, &ready)
	}
	if err != nil {
		return err
	}
	down := 0
	for _, p := range list {
		if p.Active != 0 && p.Health == "down" {
			down++
		}
	}
	if a.jsonOut {
		type trunk struct {
			ID     int64  `json:"provider_id"`
			Name   string `json:"name"`
			Health string `json:"health"`
			Active bool   `json:"active"`
		}
		trunks := make([]trunk, len(list))
		for i, p := range list {
			trunks[i] = trunk{p.ID, p.Name, cmp.Or(p.Health, "unknown"), p.Active != 0}
		}
		err = writeJSON(a.stdout, map[string]any{"providers": trunks, "ready": ready})
	} else {
		rows := make([][]string, len(list))
		for i, p := range list {
			h := cmp.Or(p.Health, "unknown")
			if p.Active == 0 {
				h += " (inactive)"
			}
			rows[i] = []string{p.Name, cmp.Or(gatewayNames[p.GatewayFlag], "?"), h}
		}
		_ = table(a.stdout, []string{"PROVIDER", "GATEWAY", "HEALTH"}, rows)
		fmt.Fprintf(a.stdout, "\ndaemon: %s\n", ready.Status)
		names := make([]string, 0, len(ready.Checks))
		for n := range ready.Checks {
			names = append(names, n)
		}
		sort.Strings(names)
		checks := make([][]string, len(names))
		for i, n := range names {
			checks[i] = []string{n, ready.Checks[n]}
		}
		err = table(a.stdout, []string{"CHECK", "STATE"}, checks)
	}
	if err != nil {
		return err
	}
	if down > 0 || ready.Status != "ready" {
		return &partialError{fmt.Sprintf("%d trunk(s) down; daemon %s", down, ready.Status)}
	}
	return nil
}
