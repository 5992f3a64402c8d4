package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"
)

// counters are a campaign's, as the API and the live stream give them.
type counters struct {
	Total    int64 `json:"total"`
	Done     int64 `json:"done"`
	Answered int64 `json:"answered"`
	Failed   int64 `json:"failed"`
	InFlight int64 `json:"in_flight"`
	Pending  int64 `json:"pending"`
}

func (c counters) String() string {
	return fmt.Sprintf("total %d, done %d, answered %d, failed %d, in flight %d, pending %d",
		c.Total, c.Done, c.Answered, c.Failed, c.InFlight, c.Pending)
}

// blocked is why an active campaign cannot dial.
type blocked struct {
	Reason string `json:"reason"`
	Field  string `json:"field"`
	Fault  string `json:"fault"`
}

// campaign is GET /campaigns/{id}, the fields dialerctl shows.
type campaign struct {
	ID          int64    `json:"campaign_id"`
	ProgramID   int64    `json:"program_id"`
	GroupID     int64    `json:"group_id"`
	CPM         int      `json:"cpm"`
	TryAllowed  int      `json:"try_allowed"`
	Status      string   `json:"status"`
	WindowStart string   `json:"window_start"`
	WindowEnd   string   `json:"window_end"`
	WindowTZ    string   `json:"window_tz"`
	Counters    counters `json:"counters"`
	StartedAt   int64    `json:"started_at"`
	FinishedAt  int64    `json:"finished_at"`
	Blocked     *blocked `json:"blocked"`
}

func (a *app) campaignsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "campaigns",
		Aliases: []string{"campaign"},
		Short:   "List, show, start, stop and watch campaigns",
	}
	cmd.AddCommand(
		&cobra.Command{Use: "ls", Short: "List the campaigns you may see", Args: args(0),
			RunE: func(c *cobra.Command, _ []string) error { return a.listCampaigns(c.Context()) }},
		&cobra.Command{Use: "show CAMPAIGN", Short: "Show a campaign with its counters", Args: args(1, "CAMPAIGN (an id)"),
			RunE: func(c *cobra.Command, argv []string) error { return a.showCampaign(c.Context(), argv[0]) }},
		&cobra.Command{Use: "start CAMPAIGN", Short: "Start (or resume) a campaign", Args: args(1, "CAMPAIGN (an id)"),
			RunE: func(c *cobra.Command, argv []string) error { return a.startStop(c.Context(), argv[0], true) }},
		&cobra.Command{Use: "stop CAMPAIGN", Short: "Stop a campaign; start resumes it where it was", Args: args(1, "CAMPAIGN (an id)"),
			RunE: func(c *cobra.Command, argv []string) error { return a.startStop(c.Context(), argv[0], false) }},
		a.watchCommand(),
	)
	return cmd
}

// campaignID parses a campaign id argument.
func campaignID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("campaign %q: want a campaign id (a positive number; dialerctl campaigns ls lists them)", s)
	}
	return id, nil
}

func (a *app) listCampaigns(ctx context.Context) error {
	c, err := a.client(true)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/campaigns?per_page=1000", nil, &raw); err != nil {
		return err
	}
	if a.jsonOut {
		return writeJSON(a.stdout, raw)
	}
	var list []campaign
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("GET /campaigns: %w", err)
	}
	rows := make([][]string, len(list))
	for i, k := range list {
		status := k.Status
		if k.Blocked != nil {
			status += " (blocked)"
		}
		rows[i] = []string{strconv.FormatInt(k.ID, 10), status, strconv.FormatInt(k.ProgramID, 10), strconv.FormatInt(k.GroupID, 10),
			strconv.Itoa(k.CPM), fmt.Sprintf("%d/%d", k.Counters.Done, k.Counters.Total),
			strconv.FormatInt(k.Counters.Answered, 10), strconv.FormatInt(k.Counters.Failed, 10), strconv.FormatInt(k.Counters.InFlight, 10)}
	}
	return table(a.stdout, []string{"ID", "STATUS", "PROGRAM", "GROUP", "CPM", "DONE", "ANSWERED", "FAILED", "IN FLIGHT"}, rows)
}

// getCampaign reads one campaign, raw and decoded.
func (a *app) getCampaign(ctx context.Context, c *client, id int64) (campaign, json.RawMessage, error) {
	var raw json.RawMessage
	var k campaign
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/campaigns/%d", id), nil, &raw); err != nil {
		return k, nil, err
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, nil, fmt.Errorf("GET /campaigns/%d: %w", id, err)
	}
	return k, raw, nil
}

func (a *app) showCampaign(ctx context.Context, arg string) error {
	id, err := campaignID(arg)
	if err != nil {
		return err
	}
	c, err := a.client(true)
	if err != nil {
		return err
	}
	k, raw, err := a.getCampaign(ctx, c, id)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return writeJSON(a.stdout, raw)
	}
	a.printCampaign(k)
	return nil
}

func (a *app) printCampaign(k campaign) {
	rows := [][]string{
		{"campaign", strconv.FormatInt(k.ID, 10)},
		{"status", k.Status},
		{"program", strconv.FormatInt(k.ProgramID, 10)},
		{"group", strconv.FormatInt(k.GroupID, 10)},
		{"cpm", strconv.Itoa(k.CPM)},
		{"try_allowed", strconv.Itoa(k.TryAllowed)},
		{"window", k.WindowStart + "-" + k.WindowEnd + " " + k.WindowTZ},
		{"counters", k.Counters.String()},
		{"started", unixTime(k.StartedAt)},
		{"finished", unixTime(k.FinishedAt)},
	}
	if b := k.Blocked; b != nil {
		rows = append(rows, []string{"blocked", fmt.Sprintf("%s (fix %s; %s fault)", b.Reason, b.Field, b.Fault)})
	}
	for _, r := range rows {
		fmt.Fprintf(a.stdout, "%-12s %s\n", r[0]+":", printable(r[1]))
	}
}

func (a *app) startStop(ctx context.Context, arg string, start bool) error {
	id, err := campaignID(arg)
	if err != nil {
		return err
	}
	c, err := a.client(true)
	if err != nil {
		return err
	}
	verb, done := "stop", "stopped"
	if start {
		verb, done = "start", "started"
	}
	if err := c.do(ctx, http.MethodPut, fmt.Sprintf("/campaigns/%d/%s", id, verb), nil, nil); err != nil {
		return err
	}
	k, raw, err := a.getCampaign(ctx, c, id)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return writeJSON(a.stdout, raw)
	}
	fmt.Fprintf(a.stdout, "campaign %d %s: %s; %s\n", id, done, k.Status, k.Counters)
	if b := k.Blocked; b != nil {
		fmt.Fprintf(a.stderr, "campaign %d cannot dial: %s (fix %s)\n", id, printable(b.Reason), printable(b.Field))
	}
	return nil
}
