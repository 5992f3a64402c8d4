package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/dialerd/dialerd/cmd/internal/e2e"
)

// bench is one run: its options, work directory and child processes.
type bench struct {
	opt options
	dir string
	log io.Writer

	sipp    *e2e.SIPp
	dialerd *e2e.Dialerd
	stress  *e2e.Child

	pprofAddr string // the profiling build's endpoint, when -pprof
	api       *e2e.Client
}

// report is everything the run measured; the JSON output.
type report struct {
	StartedAt time.Time `json:"started_at"`
	Command   []string  `json:"command"`
	Config    struct {
		CPM              int     `json:"cpm"`
		DurationSeconds  float64 `json:"duration_seconds"`
		Contacts         int     `json:"contacts"`
		RecordingSeconds float64 `json:"recording_seconds"`
		APIIntervalMS    float64 `json:"api_interval_ms"`
		ProviderCPS      int     `json:"provider_cps"`
		Channels         int     `json:"channels"`
	} `json:"config"`
	Machine struct {
		Cores         int        `json:"cores"`
		GoVersion     string     `json:"go_version"`
		SIPpVersion   string     `json:"sipp_version"`
		LoadBefore    [3]float64 `json:"load_before"`
		LoadDuringMax float64    `json:"load_1m_max_while_dialing"`
		LoadAtEnd     [3]float64 `json:"load_at_completion"`
		LoadAfter     [3]float64 `json:"load_after"`
		// HostBusy is the share of all cores' time the machine was busy
		// while dialing, dialerd and SIPp included; Others is what neither
		// used (other work on a shared machine).
		HostBusyPercent   float64 `json:"host_cpu_busy_percent_of_all_cores"`
		OthersBusyPercent float64 `json:"others_cpu_percent_of_all_cores"`
	} `json:"machine"`
	Figures []figure `json:"figures"`
	Details struct {
		SetupSeconds     float64 `json:"setup_seconds"`
		ImportSeconds    float64 `json:"import_seconds"`
		StartAnswerMS    float64 `json:"start_request_ms"`
		FirstInviteAfter float64 `json:"first_invite_after_start_ms"`
		DialingSeconds   float64 `json:"dialing_seconds"`
		CompletedSeconds float64 `json:"completed_after_start_seconds"`
		// Judged is where the figures come from: "wire" (kernel time
		// stamps of the INVITEs on lo) or "sipp" (SIPp's message log) when
		// the capture was not possible.
		Judged            string      `json:"judged_on"`
		Wire              arrivals    `json:"invites_on_the_wire"`
		SIPp              arrivals    `json:"invites_as_sipp_received"`
		API               latencies   `json:"api_get_campaign"`
		DialerdCPUPercent float64     `json:"dialerd_cpu_percent_of_one_core"`
		DialerdCPUBusiest float64     `json:"dialerd_cpu_percent_busiest_5s"`
		DialerdCPUSeconds float64     `json:"dialerd_cpu_seconds_while_dialing"`
		Reference         *reference  `json:"sipp_uac_reference,omitempty"`
		DialerdPeakRSSMiB float64     `json:"dialerd_peak_rss_mib"`
		DialerdRSSEndMiB  float64     `json:"dialerd_rss_at_completion_mib"`
		SIPpCPUPercent    float64     `json:"sipp_cpu_percent_of_one_core"`
		Verification      verdict     `json:"verification"`
		Load              *loadReport `json:"api_load,omitempty"`
		Stress            bool        `json:"stress_ng_cpu_2"`
		// Kernel drops at the SIP sockets over the run (/proc/net/udp).
		DialerdUDPDrops int64 `json:"dialerd_sip_socket_drops"`
		SIPpUDPDrops    int64 `json:"sipp_socket_drops"`
		// The fullest dialerd's SIP receive queue was, sampled every 100 ms.
		DialerdRxQueueMax int64 `json:"dialerd_sip_rx_queue_max_bytes"`
	} `json:"details"`
}

// verdict is the check that no attempt was lost or doubled.
type verdict struct {
	Contacts            int          `json:"contacts"`
	InvitedNumbers      int          `json:"invited_numbers"`
	Invites             int          `json:"invites"`
	Retransmissions     int          `json:"invite_retransmissions"`
	NotInvited          int          `json:"numbers_not_invited"`
	InvitedTwice        int          `json:"numbers_invited_more_than_once"`
	Unknown             int          `json:"invites_to_unknown_numbers"`
	SIPpSuccessful      int          `json:"sipp_successful_calls"`
	SIPpFailed          int          `json:"sipp_failed_calls"`
	OptionsPings        int          `json:"options_pings_answered"`
	SIPpExit            string       `json:"sipp_exit"`
	Counters            e2e.Counters `json:"campaign_counters"`
	Transmissions       int          `json:"transmissions"`
	NotCompleted        int          `json:"transmissions_not_completed"`
	TriesNotOne         int          `json:"transmissions_with_try_done_not_1"`
	Spools              int          `json:"spools"`
	TransmissionsNo     int          `json:"transmissions_without_spool"`
	TransmissionsMulti  int          `json:"transmissions_with_several_spools"`
	SpoolsNotInvited    int          `json:"spools_whose_call_uuid_sipp_never_saw"`
	InvitesWithoutSpool int          `json:"invites_without_spool"`
	// The wire per Call-ID: answered by SIPp (200 sent), and of those the
	// ones dialerd never processed (no ACK, or its spool not answered);
	// 200s SIPp had to send again; calls never sent BYE; BYEs dialerd had
	// to send again (SIPp's 200 not taken within T1), and on how many calls.
	AnsweredOnWire     int      `json:"answered_on_the_wire"`
	AnsweredLost       int      `json:"answered_lost"`
	OKRetransmissions  int      `json:"ok_retransmissions"`
	NoBye              int      `json:"answered_never_sent_bye"`
	ByeRetransmissions int      `json:"bye_retransmissions"`
	ByesRetransmitted  int      `json:"calls_with_bye_retransmitted"`
	Examples           []string `json:"examples,omitempty"`
	Lost               int      `json:"lost"`
	Doubled            int      `json:"doubled"`
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// stopAll ends the child processes: dialerd gracefully first.
func (b *bench) stopAll() {
	if b.dialerd != nil && b.dialerd.Proc != nil && !b.dialerd.Proc.Exited() {
		if err := b.dialerd.Stop(30 * time.Second); err != nil {
			b.logf("dialerd: %v", err)
		}
	}
	stopStress(b.stress)
	if b.sipp != nil && !b.sipp.Proc.Exited() {
		_ = b.sipp.Proc.Stop(syscall.SIGKILL, 5*time.Second)
	}
}

func (b *bench) path(name string) string { return filepath.Join(b.dir, name) }

func (b *bench) run(ctx context.Context) (*report, error) {
	o := b.opt
	rep := &report{StartedAt: time.Now(), Command: os.Args}
	n := o.contacts()
	cps := (o.cpm + 59) / 60
	// Caps well above the campaign's pace: the pacer is what is measured,
	// and the channels cover the calls alive at once (each lasts the
	// recording plus signalling) several times over.
	providerCPS := 2 * cps
	channels := max(200, int(float64(cps)*(o.recording.Seconds()+1)*4))
	rep.Config.CPM, rep.Config.DurationSeconds, rep.Config.Contacts = o.cpm, o.duration.Seconds(), n
	rep.Config.RecordingSeconds, rep.Config.APIIntervalMS = o.recording.Seconds(), ms(o.apiInterval)
	rep.Config.ProviderCPS, rep.Config.Channels = providerCPS, channels
	rep.Machine.Cores = runtime.NumCPU()
	rep.Machine.GoVersion = runtime.Version()

	rep.Machine.SIPpVersion = e2e.SIPpVersion(o.sipp)
	if o.pprof {
		bin, err := buildProfiled(ctx, b.dir)
		if err != nil {
			return nil, err
		}
		if b.pprofAddr, err = pprofAddr(); err != nil {
			return nil, err
		}
		b.opt.dialerd = bin
		b.logf("dialerd built with pprof on %s", b.pprofAddr)
	}
	if err := b.startSIPp(ctx, n); err != nil {
		return nil, err
	}
	if err := b.startDialerd(ctx, providerCPS, channels); err != nil {
		return nil, err
	}

	setupStart := time.Now()
	numbers := e2e.NANPNumbers(n)
	campaignID, groupID, importTime, err := b.setup(ctx, numbers, providerCPS, channels)
	if err != nil {
		return nil, err
	}
	rep.Details.SetupSeconds = time.Since(setupStart).Seconds()
	rep.Details.ImportSeconds = importTime.Seconds()
	b.logf("setup done in %.1fs (CSV import of %d contacts %.1fs); starting campaign %d at %d cpm",
		rep.Details.SetupSeconds, n, importTime.Seconds(), campaignID, o.cpm)

	// Dialing: capture the INVITEs, watch both processes, probe the API,
	// wait for completion.
	wire, err := startWireCapture(b.sipp.Port)
	if err != nil {
		b.logf("no wire time stamps, spacing is judged on SIPp's: %v", err)
	}
	rep.Machine.LoadBefore = loadAverage()
	dWatch := watchProc(b.dialerd.Proc.Pid(), 250*time.Millisecond)
	sWatch := watchProc(b.sipp.Proc.Pid(), 250*time.Millisecond)
	highestLoad := watchLoad()

	dDrops0, _, _ := udpDrops(b.dialerd.SIPPort)
	rxMax := watchRxQueue(b.dialerd.SIPPort, 100*time.Millisecond)
	sDrops0, _, _ := udpDrops(b.sipp.Port)
	var load *apiLoad
	if o.apiClients > 0 {
		t := loadTarget{campaignID: campaignID, groupID: groupID, contacts: n}
		if load, err = startAPILoad(ctx, b.api.Base, b.dialerd.Password, o.apiClients, o.apiThink, t, o.seed); err != nil {
			return nil, err
		}
		b.logf("%d API clients running (think %s)", o.apiClients, o.apiThink)
	}
	if o.stress {
		if b.stress, err = startStress(b.dir, 2*o.duration+2*time.Minute); err != nil {
			return nil, err
		}
		rep.Details.Stress = true
		b.logf("stress-ng --cpu 2 running")
	}

	busy0, total0 := hostCPU()
	start := time.Now()
	if err := b.api.Do(ctx, http.MethodPut, "/campaigns/"+strconv.FormatInt(campaignID, 10)+"/start", nil, "", nil); err != nil {
		return nil, err
	}
	rep.Details.StartAnswerMS = ms(time.Since(start))
	if b.pprofAddr != "" {
		// Kept with the results (bench-results/profiles) when there are any.
		out := filepath.Join(b.dir, "profiles")
		if o.jsonPath != "" {
			out = filepath.Join(filepath.Dir(o.jsonPath), "profiles")
		}
		go collectProfiles(ctx, b.pprofAddr, out, o.duration/4, min(30*time.Second, o.duration/2), b.logf)
	}
	lat, apiErrors, completedAt, last, err := b.probe(ctx, campaignID, start, n)
	if load != nil {
		lr := load.finish(o.apiClients, o.apiThink, time.Since(start))
		rep.Details.Load = &lr
	}
	stopStress(b.stress)
	b.stress = nil
	rep.Details.DialerdRxQueueMax = rxMax()
	if d, _, ok := udpDrops(b.dialerd.SIPPort); ok {
		rep.Details.DialerdUDPDrops = d - dDrops0
	}
	if d, _, ok := udpDrops(b.sipp.Port); ok {
		rep.Details.SIPpUDPDrops = d - sDrops0
	}
	rep.Machine.LoadDuringMax = highestLoad()
	rep.Machine.LoadAtEnd = loadAverage()
	busy1, total1 := hostCPU()
	if total1 > total0 {
		rep.Machine.HostBusyPercent = 100 * float64(busy1-busy0) / float64(total1-total0)
	}
	atCompletion := readProc(b.dialerd.Proc.Pid())
	dSamples := dWatch.finish()
	var wireStamps map[string]time.Time
	if wire != nil {
		var dropped uint32
		var werr error
		wireStamps, dropped, werr = wire.finish()
		rep.Details.Wire.Dropped = dropped
		if werr != nil {
			b.logf("capture: %v", werr)
			wireStamps = nil
		}
	}
	if err != nil {
		sWatch.finish()
		return nil, err
	}
	rep.Details.CompletedSeconds = completedAt.Sub(start).Seconds()
	b.logf("campaign completed after %.1fs: %+v", rep.Details.CompletedSeconds, last.Counters)

	// SIPp has room for the OPTIONS pings in its -m, so it does not end by
	// itself: every call is over (the campaign completed), and SIGUSR1
	// makes it stop taking calls and exit with its final counts once the
	// last BYE is answered.
	if !b.sipp.Proc.Wait(ctx, 2*time.Second) {
		if err := b.sipp.Proc.Stop(syscall.SIGUSR1, 15*time.Second); err != nil {
			b.logf("SIPp UAS: %v", err)
		}
	}
	sSamples := sWatch.finish()
	rep.Machine.LoadAfter = loadAverage()

	v, invites, err := b.verify(ctx, campaignID, numbers, last.Counters)
	if err != nil {
		return nil, err
	}
	rep.Details.Verification = v

	// Stop dialerd now: its figures are taken.
	if err := b.dialerd.Stop(30 * time.Second); err != nil {
		b.logf("dialerd exit: %v", err)
	}

	// Rate and spacing from the INVITEs on the wire and as SIPp got them.
	sippAt := make([]time.Time, len(invites))
	var wireAt []time.Time
	for i, inv := range invites {
		sippAt[i] = inv.At
		if t, ok := wireStamps[inv.CallID]; ok {
			wireAt = append(wireAt, t)
		}
	}
	slices.SortFunc(wireAt, time.Time.Compare)
	rep.Details.SIPp = measureArrivals(sippAt, o.cpm)
	dropped := rep.Details.Wire.Dropped
	rep.Details.Wire = measureArrivals(wireAt, o.cpm)
	rep.Details.Wire.Dropped = dropped
	rep.Details.Judged = "sipp"
	judged := rep.Details.SIPp
	if len(wireAt) == len(sippAt) && len(wireAt) > 0 {
		rep.Details.Judged, judged = "wire", rep.Details.Wire
	} else if wire != nil {
		b.logf("the capture saw %d of SIPp's %d INVITEs; judging on SIPp's time stamps", len(wireAt), len(sippAt))
	}
	if len(judged.at) > 0 {
		rep.Details.FirstInviteAfter = ms(judged.at[0].Sub(start))
	}
	rep.Details.API = summarise(lat, apiErrors)

	// CPU over the dialing (start request to completion), RSS peak.
	if a, z, ok := between(dSamples, start, completedAt); ok {
		rep.Details.DialerdCPUPercent = cpuUse(a, z)
		rep.Details.DialerdCPUSeconds = (z.cpu - a.cpu).Seconds()
	}
	rep.Details.DialerdCPUBusiest = busiest(dSamples, 5*time.Second)
	peak := atCompletion.hwm
	for _, s := range dSamples {
		peak = max(peak, s.hwm)
	}
	rep.Details.DialerdPeakRSSMiB = mib(peak)
	rep.Details.DialerdRSSEndMiB = mib(atCompletion.rss)
	if a, z, ok := between(sSamples, start, completedAt); ok {
		rep.Details.SIPpCPUPercent = cpuUse(a, z)
	}
	ours := (rep.Details.DialerdCPUPercent + rep.Details.SIPpCPUPercent) / float64(rep.Machine.Cores)
	rep.Machine.OthersBusyPercent = max(0, rep.Machine.HostBusyPercent-ours)
	if o.reference {
		ref, err := b.reference(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("the SIPp UAC reference run: %w", err)
		}
		ref.DialerdPerCall = 1000 * rep.Details.DialerdCPUSeconds / float64(n)
		if ref.CPUPerCallMS > 0 {
			ref.CPURatio = ref.DialerdPerCall / ref.CPUPerCallMS
		}
		if ref.PeakRSSMiB > 0 {
			ref.RSSRatio = rep.Details.DialerdPeakRSSMiB / ref.PeakRSSMiB
		}
		rep.Details.Reference = ref
	}
	rep.Figures = figures(rep, o)
	return rep, nil
}

// reference is SIPp's own UAC placing the same calls at the same rate on
// the same host, against a second SIPp UAS: what a caller that persists
// nothing and plays no RTP costs, to judge dialerd's cost per call by.
type reference struct {
	Calls          int     `json:"calls"`
	Successful     int     `json:"successful"`
	Failed         int     `json:"failed"`
	Seconds        float64 `json:"seconds"`
	CPUSeconds     float64 `json:"uac_cpu_seconds"`
	CPUPercent     float64 `json:"uac_cpu_percent_of_one_core"`
	PeakRSSMiB     float64 `json:"uac_peak_rss_mib"`
	CPUPerCallMS   float64 `json:"uac_cpu_ms_per_call"`
	DialerdPerCall float64 `json:"dialerd_cpu_ms_per_call"`
	CPURatio       float64 `json:"dialerd_to_uac_cpu_per_call"`
	RSSRatio       float64 `json:"dialerd_to_uac_peak_rss"`
}

// reference runs SIPp's UAC for n calls at the campaign's rate, each held
// for the recording's length, after dialerd has stopped.
func (b *bench) reference(ctx context.Context, n int) (*reference, error) {
	dir := filepath.Join(b.dir, "reference")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	timeout := 2*b.opt.duration + 3*time.Minute
	uas, err := e2e.StartSIPp(ctx, e2e.SIPpOptions{Bin: b.opt.sipp, Dir: filepath.Join(dir), Calls: n, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	defer func() { _ = uas.Proc.Stop(syscall.SIGKILL, 5*time.Second) }()
	uacDir := filepath.Join(dir, "uac")
	if err := os.MkdirAll(uacDir, 0o755); err != nil {
		return nil, err
	}
	b.logf("reference: SIPp's UAC, %d calls at %d cpm (%s each) against a second SIPp UAS", n, b.opt.cpm, b.opt.recording)
	start := time.Now()
	uac, err := e2e.StartSIPp(ctx, e2e.SIPpOptions{Bin: b.opt.sipp, Dir: uacDir, UAC: "127.0.0.1:" + strconv.Itoa(uas.Port),
		Calls: n, Timeout: timeout, Args: []string{"-r", strconv.Itoa(b.opt.cpm), "-rp", "60000",
			"-d", strconv.FormatInt(b.opt.recording.Milliseconds(), 10), "-l", strconv.Itoa(max(200, n))}})
	if err != nil {
		return nil, err
	}
	w := watchProc(uac.Proc.Pid(), 250*time.Millisecond)
	ok := uac.Proc.Wait(ctx, timeout)
	samples := w.finish()
	end := time.Now()
	if !ok {
		_ = uac.Proc.Stop(syscall.SIGKILL, 5*time.Second)
		return nil, fmt.Errorf("SIPp's UAC did not finish within %s", timeout)
	}
	r := &reference{Calls: n, Seconds: end.Sub(start).Seconds()}
	r.Successful, r.Failed = uac.Counts()
	if len(samples) > 1 {
		a, z := samples[0], samples[len(samples)-1]
		r.CPUSeconds = (z.cpu - a.cpu).Seconds()
		r.CPUPercent = cpuUse(a, z)
		for _, s := range samples {
			r.PeakRSSMiB = max(r.PeakRSSMiB, mib(s.hwm))
		}
	}
	r.CPUPerCallMS = 1000 * r.CPUSeconds / float64(n)
	return r, nil
}

// middleRate is the rate over the arrivals after the first frac and
// before the last frac of the span: ramp-up and ramp-down left out.
func middleRate(at []time.Time, frac float64) float64 {
	if len(at) < 2 {
		return 0
	}
	span := at[len(at)-1].Sub(at[0])
	from := at[0].Add(time.Duration(float64(span) * frac))
	to := at[len(at)-1].Add(-time.Duration(float64(span) * frac))
	var in []time.Time
	for _, t := range at {
		if !t.Before(from) && !t.After(to) {
			in = append(in, t)
		}
	}
	if len(in) < 2 {
		return 0
	}
	return rate(len(in), in[len(in)-1].Sub(in[0]))
}

// arrivals are the INVITEs as one observer saw them, and what follows.
type arrivals struct {
	at             []time.Time
	Invites        int     `json:"invites"`
	DialingSeconds float64 `json:"first_to_last_seconds"`
	CPMFirstToLast float64 `json:"cpm_first_to_last"`
	CPMMiddle      float64 `json:"cpm_middle_80pct"`
	Spacing        spacing `json:"spacing"`
	Dropped        uint32  `json:"capture_drops,omitempty"`
}

func measureArrivals(at []time.Time, cpm int) arrivals {
	a := arrivals{at: at, Invites: len(at)}
	if len(at) < 2 {
		return a
	}
	span := at[len(at)-1].Sub(at[0])
	a.DialingSeconds = span.Seconds()
	a.CPMFirstToLast = rate(len(at), span)
	a.CPMMiddle = middleRate(at, 0.1)
	a.Spacing = inviteSpacing(at, cpm)
	return a
}

func figures(rep *report, o options) []figure {
	d := rep.Details
	v := d.Verification
	n := rep.Config.Contacts
	a, s := d.Wire, d.SIPp
	where := "on the wire"
	if d.Judged != "wire" {
		a, where = d.SIPp, "as SIPp received"
	}
	within := func(x float64) bool { return x >= 0.99*float64(o.cpm) && x <= 1.01*float64(o.cpm) }
	wantSpan := time.Duration(n-1) * time.Minute / time.Duration(o.cpm)
	target := fmt.Sprintf("%d ±1%%", o.cpm)
	// Under load the API's target is the issue's: p99 under 250 ms.
	probeTarget, probeLimit := "< 50 ms", 50.0
	if o.apiClients > 0 || o.stress {
		probeTarget, probeLimit = "< 250 ms", 250.0
	}
	figs := []figure{
		judged("dialing sustained (first to last INVITE)", "≥ "+wantSpan.Round(time.Second).String()+" −1%", a.DialingSeconds, "s",
			fmt.Sprintf("%.2f s", a.DialingSeconds), a.DialingSeconds >= 0.99*wantSpan.Seconds() && v.Invites == n),
		judged("achieved CPM, first to last INVITE", target, a.CPMFirstToLast, "cpm", fmt.Sprintf("%.1f", a.CPMFirstToLast), within(a.CPMFirstToLast)),
		judged("achieved CPM, middle 80% of dialing", target, a.CPMMiddle, "cpm", fmt.Sprintf("%.1f", a.CPMMiddle), within(a.CPMMiddle)),
		info("INVITE spacing error p50 "+where, a.Spacing.ErrP50MS, "ms", fmt.Sprintf("%.3f ms (interval %.3g ms)", a.Spacing.ErrP50MS, a.Spacing.TargetMS)),
		judged("INVITE spacing error p99 "+where, "< 5 ms", a.Spacing.ErrP99MS, "ms", fmt.Sprintf("%.3f ms", a.Spacing.ErrP99MS), a.Spacing.ErrP99MS < 5),
		info("INVITE spacing error max "+where, a.Spacing.ErrMaxMS, "ms", fmt.Sprintf("%.3f ms (%d of %d gaps > 5 ms)", a.Spacing.ErrMaxMS, a.Spacing.Over5MS, a.Spacing.Gaps)),
		info("INVITE spacing error as SIPp received", s.Spacing.ErrP99MS, "ms",
			fmt.Sprintf("p50 %.3f, p99 %.3f, max %.1f ms; %.1f cpm", s.Spacing.ErrP50MS, s.Spacing.ErrP99MS, s.Spacing.ErrMaxMS, s.CPMFirstToLast)),
		judged("calls completed (SIPp successful)", strconv.Itoa(n), float64(v.SIPpSuccessful), "calls",
			fmt.Sprintf("%d (failed %d)", v.SIPpSuccessful, v.SIPpFailed), v.SIPpSuccessful == n && v.SIPpFailed == 0),
		judged("calls completed (campaign counters)", strconv.Itoa(n), float64(v.Counters.Answered), "calls",
			fmt.Sprintf("%d answered, %d failed of %d", v.Counters.Answered, v.Counters.Failed, v.Counters.Total),
			v.Counters.Answered == int64(n) && v.Counters.Total == int64(n)),
		judged("attempts lost", "0", float64(v.Lost), "attempts", strconv.Itoa(v.Lost), v.Lost == 0),
		judged("attempts doubled", "0", float64(v.Doubled), "attempts", strconv.Itoa(v.Doubled), v.Doubled == 0),
		info("dialerd CPU, start to completion", d.DialerdCPUPercent, "% of one core",
			fmt.Sprintf("%.1f%% of one core (busiest 5 s: %.1f%%)", d.DialerdCPUPercent, d.DialerdCPUBusiest)),
		judged("dialerd peak RSS (VmHWM)", "< 200 MiB", d.DialerdPeakRSSMiB, "MiB", fmt.Sprintf("%.1f MiB", d.DialerdPeakRSSMiB), d.DialerdPeakRSSMiB < 200),
		info("API GET /campaigns/{id} p50", d.API.P50MS, "ms", fmt.Sprintf("%.2f ms (%d requests)", d.API.P50MS, d.API.Count)),
		judged("API GET /campaigns/{id} p99", probeTarget, d.API.P99MS, "ms",
			fmt.Sprintf("%.2f ms (max %.1f ms, %d errors)", d.API.P99MS, d.API.MaxMS, d.API.Errors), d.API.P99MS < probeLimit && d.API.Errors == 0),
		judged("answered calls lost (200 sent, never ACKed or spool not answered)", "0", float64(v.AnsweredLost), "calls",
			fmt.Sprintf("%d of %d answered on the wire", v.AnsweredLost, v.AnsweredOnWire), v.AnsweredLost == 0),
		info("retransmissions on the wire", float64(v.Retransmissions), "",
			fmt.Sprintf("INVITE %d, 200 OK %d, BYE %d (on %d calls); answered never sent BYE %d", v.Retransmissions, v.OKRetransmissions,
				v.ByeRetransmissions, v.ByesRetransmitted, v.NoBye)),
		info("UDP datagrams dropped by the kernel", float64(d.DialerdUDPDrops), "",
			fmt.Sprintf("dialerd's SIP socket %d (receive queue at most %d bytes), SIPp's %d", d.DialerdUDPDrops, d.DialerdRxQueueMax, d.SIPpUDPDrops)),
		info("SIPp CPU, start to completion", d.SIPpCPUPercent, "% of one core", fmt.Sprintf("%.1f%% of one core", d.SIPpCPUPercent)),
		info("host CPU busy while dialing", rep.Machine.HostBusyPercent, "% of all cores",
			fmt.Sprintf("%.1f%% of %d cores (other work: %.1f%%)", rep.Machine.HostBusyPercent, rep.Machine.Cores, rep.Machine.OthersBusyPercent)),
		info("load average (1 min) at start / end of dialing", rep.Machine.LoadAtEnd[0], "",
			fmt.Sprintf("%.2f / %.2f (highest %.2f)", rep.Machine.LoadBefore[0], rep.Machine.LoadAtEnd[0], rep.Machine.LoadDuringMax)),
	}
	if l := d.Load; l != nil {
		figs = append(figs,
			judged(fmt.Sprintf("API load p99 (%d clients)", l.Clients), "< 250 ms", l.All.P99MS, "ms",
				fmt.Sprintf("%.1f ms (p50 %.1f, max %.0f ms; %d requests, %.0f/s, %d errors)", l.All.P99MS, l.All.P50MS, l.All.MaxMS,
					l.All.Count, l.RPS, l.All.Errors), l.All.P99MS < 250 && l.All.Errors == 0))
		names := make([]string, 0, len(l.PerOp))
		for name := range l.PerOp {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			x := l.PerOp[name]
			figs = append(figs, info("  "+name, x.P99MS, "ms", fmt.Sprintf("p50 %.1f, p99 %.1f, max %.0f ms (%d)", x.P50MS, x.P99MS, x.MaxMS, x.Count)))
		}
	}
	if d.Stress {
		figs = append(figs, info("stress-ng --cpu 2 beside it", 1, "", "yes"))
	}
	if r := d.Reference; r != nil {
		figs = append(figs,
			info("SIPp UAC reference, same calls and rate", r.CPUPercent, "% of one core",
				fmt.Sprintf("%.1f%% of one core, %.1f MiB peak RSS, %d ok / %d failed in %.1f s", r.CPUPercent, r.PeakRSSMiB, r.Successful, r.Failed, r.Seconds)),
			info("CPU per call, dialerd : SIPp UAC", r.CPURatio, "×",
				fmt.Sprintf("%.3f ms : %.3f ms = %.1f×", r.DialerdPerCall, r.CPUPerCallMS, r.CPURatio)),
			info("peak RSS, dialerd : SIPp UAC", r.RSSRatio, "×",
				fmt.Sprintf("%.1f MiB : %.1f MiB = %.1f×", d.DialerdPeakRSSMiB, r.PeakRSSMiB, r.RSSRatio)))
	}
	return figs
}

// benchUAS is the trunk's scenario: SIPp's uas, and OPTIONS answered.
//
//go:embed bench_uas.xml
var benchUAS []byte

// optionsInterval is how often dialerd pings the trunk during the bench:
// its default, so the run sees what a trunk in service sees.
const optionsInterval = 30 * time.Second

// startSIPp starts the UAS: it answers every call (180, 200 with SDP) and
// waits for our BYE, and answers OPTIONS pings 200 as a trunk does. SIPp
// counts each ping as a call of its -m, so it runs with room for them;
// verify subtracts them. Its message log stamps each received datagram.
func (b *bench) startSIPp(ctx context.Context, n int) error {
	scenario := filepath.Join(b.dir, "bench_uas.xml")
	if err := os.WriteFile(scenario, benchUAS, 0o644); err != nil {
		return err
	}
	pings := int((2*b.opt.duration+3*time.Minute)/optionsInterval) + 10
	var err error
	b.sipp, err = e2e.StartSIPp(ctx, e2e.SIPpOptions{Bin: b.opt.sipp, Dir: b.dir, Scenario: scenario,
		Calls: n + pings, Timeout: 2*b.opt.duration + 3*time.Minute})
	if err != nil {
		return err
	}
	b.logf("SIPp UAS on 127.0.0.1:%d (media %d), %d calls", b.sipp.Port, b.sipp.MediaPort, n)
	return nil
}

// startDialerd runs the daemon with its whole configuration in the
// environment and waits until its API is ready.
func (b *bench) startDialerd(ctx context.Context, providerCPS, channels int) error {
	var env []string
	if b.pprofAddr != "" {
		env = append(env, "DIALERBENCH_PPROF="+b.pprofAddr)
	}
	d, err := e2e.NewDialerd(b.opt.dialerd, b.dir, true, append(env,
		"DIALERD_ENGINE_PROVIDER_CPS="+strconv.Itoa(providerCPS),
		"DIALERD_ENGINE_NODE_CPS="+strconv.Itoa(providerCPS),
		"DIALERD_ENGINE_PROVIDER_CHANNELS="+strconv.Itoa(channels),
		"DIALERD_ENGINE_TENANT_CHANNELS="+strconv.Itoa(channels),
		"DIALERD_SIP_OPTIONS_INTERVAL="+optionsInterval.String(),
	)...)
	if err != nil {
		return err
	}
	b.dialerd = d
	if err := d.Start(ctx); err != nil {
		return err
	}
	b.api = d.API
	b.logf("dialerd pid %d: API 127.0.0.1:%d, SIP 127.0.0.1:%d", d.Proc.Pid(), d.APIPort, d.SIPPort)
	return nil
}

// setup creates, through the API, what the campaign needs, and returns
// the campaign id and how long the CSV import took.
func (b *bench) setup(ctx context.Context, numbers []string, providerCPS, channels int) (campaignID, groupID int64, _ time.Duration, _ error) {
	c := b.api
	if _, err := c.SIPProvider(ctx, "sipp", "127.0.0.1", b.sipp.Port, providerCPS, channels); err != nil {
		return 0, 0, 0, err
	}
	progID, err := c.VoiceProgram(ctx, "bench voicemessage", b.opt.recording)
	if err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	if groupID, err = c.Group(ctx, "bench contacts", numbers); err != nil {
		return 0, 0, 0, err
	}
	importTime := time.Since(t0)
	campaignID, err = c.Create(ctx, http.MethodPost, "/campaigns", map[string]any{
		"program_id": progID, "group_id": groupID, "cpm": b.opt.cpm, "try_allowed": 1, "retry_delay": 0,
		// A far end of its own, not people: no calling hours.
		"window_override": true,
	}, "campaign_id")
	if err != nil {
		return 0, 0, 0, err
	}
	return campaignID, groupID, importTime, nil
}

// probe GETs the campaign every apiInterval until it has completed,
// returning the request latencies (ms), the errors, when completion was
// seen and the last answer.
func (b *bench) probe(ctx context.Context, id int64, start time.Time, n int) ([]float64, int, time.Time, e2e.Campaign, error) {
	deadline := start.Add(2*b.opt.duration + 2*time.Minute)
	path := "/campaigns/" + strconv.FormatInt(id, 10)
	lat := make([]float64, 0, int(b.opt.duration/b.opt.apiInterval)*2)
	errs := 0
	var last e2e.Campaign
	t := time.NewTicker(b.opt.apiInterval)
	defer t.Stop()
	nextLog := start.Add(15 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil, 0, time.Time{}, last, errInterrupted
		case <-t.C:
		}
		if b.dialerd.Proc.Exited() {
			return nil, 0, time.Time{}, last, fmt.Errorf("dialerd exited while dialing (%v): %s", b.dialerd.Proc.Err(), e2e.Tail(b.dialerd.LogPath(), 2000))
		}
		var c e2e.Campaign
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t0 := time.Now()
		err := b.api.Do(rctx, http.MethodGet, path, nil, "", &c)
		d := time.Since(t0)
		cancel()
		if err != nil {
			errs++
			b.logf("GET %s: %v", path, err)
		} else {
			lat = append(lat, ms(d))
			last = c
		}
		now := time.Now()
		if err == nil && c.Status == "completed" {
			return lat, errs, now, last, nil
		}
		if now.After(nextLog) {
			b.logf("dialing: %+v", last.Counters)
			nextLog = now.Add(15 * time.Second)
		}
		if now.After(deadline) {
			return nil, 0, time.Time{}, last, fmt.Errorf("campaign not completed %s after its start: %+v", deadline.Sub(start), last.Counters)
		}
	}
}

// verify checks that every contact was called exactly once: SIPp's
// INVITEs by number and Call-ID, the campaign's transmissions and their
// spools by call UUID; and accounts for every Call-ID on the wire: an
// answer dialerd never took (no ACK, or a spool not answered), INVITEs
// and BYEs it had to send again. It returns the INVITEs in arrival order.
func (b *bench) verify(ctx context.Context, campaignID int64, numbers []string, cc e2e.Counters) (verdict, []e2e.Invite, error) {
	v := verdict{Contacts: len(numbers), Counters: cc}
	v.SIPpExit = "still running"
	if b.sipp.Proc.Exited() {
		v.SIPpExit = "exit 0"
		if err := b.sipp.Proc.Err(); err != nil {
			v.SIPpExit = err.Error()
		}
	}
	v.SIPpSuccessful, v.SIPpFailed = b.sipp.Counts()

	tr, err := b.sipp.Trace()
	if err != nil {
		return v, nil, fmt.Errorf("SIPp message log: %w", err)
	}
	// SIPp counted each answered OPTIONS ping as a successful call.
	v.OptionsPings = tr.Requests("OPTIONS")
	v.SIPpSuccessful -= v.OptionsPings
	invites, retrans := tr.Invites()
	v.Invites, v.Retransmissions = len(invites), retrans
	byNumber := map[string]int{}
	for _, inv := range invites {
		byNumber[inv.User]++
	}
	calls := map[string]*e2e.Call{}
	for _, c := range tr.Calls() {
		calls[c.CallID] = c
	}
	want := map[string]bool{}
	for _, num := range numbers {
		want[num] = true
		switch byNumber[num] {
		case 0:
			v.NotInvited++
			v.example("not invited: " + num)
		case 1:
		default:
			v.InvitedTwice++
			v.example(fmt.Sprintf("%s invited %d times", num, byNumber[num]))
		}
	}
	for num := range byNumber {
		if !want[num] {
			v.Unknown++
			v.example("INVITE to unknown number " + num)
		}
	}
	v.InvitedNumbers = len(byNumber)

	// The API's side: every transmission completed once, one spool each.
	txs, err := b.api.Transmissions(ctx, campaignID)
	if err != nil {
		return v, nil, err
	}
	v.Transmissions = len(txs)
	spools, err := b.api.Spools(ctx, txs)
	if err != nil {
		return v, nil, err
	}
	seenUUID := map[string]bool{}
	for i, t := range txs {
		if t.Status != "completed" {
			v.NotCompleted++
			v.example(fmt.Sprintf("transmission %d is %s (%s)", t.ID, t.Status, t.Response))
		}
		if t.TryDone != 1 {
			v.TriesNotOne++
			v.example(fmt.Sprintf("transmission %d try_done %d", t.ID, t.TryDone))
		}
		v.Spools += len(spools[i])
		switch len(spools[i]) {
		case 0:
			v.TransmissionsNo++
		case 1:
		default:
			v.TransmissionsMulti++
			v.example(fmt.Sprintf("transmission %d has %d spools", t.ID, len(spools[i])))
		}
		for _, s := range spools[i] {
			seenUUID[s.CallUUID] = true
			c := calls[s.CallUUID]
			if c == nil {
				v.SpoolsNotInvited++
				v.example(fmt.Sprintf("spool %d (%s) never reached SIPp", s.ID, s.CallUUID))
				continue
			}
			if c.Answered && (!c.ACKed || s.TimeConnect == 0) {
				v.AnsweredLost++
				v.example(fmt.Sprintf("call %s to %s answered at %s (%d × 200), ACK %v, spool %s %s",
					c.CallID, c.Number, c.AnsweredAt.Format("15:04:05.000"), c.OKs, c.ACKed, s.Status, s.Response))
			}
		}
	}
	for _, c := range calls {
		if !seenUUID[c.CallID] {
			v.InvitesWithoutSpool++
			v.example("INVITE " + c.CallID + " has no spool")
		}
		if c.Answered {
			v.AnsweredOnWire++
			v.OKRetransmissions += c.OKs - 1
			if c.Byes == 0 {
				v.NoBye++
			}
		}
		if c.Byes > 1 {
			v.ByeRetransmissions += c.Byes - 1
			v.ByesRetransmitted++
		}
	}
	v.Lost = max(v.NotInvited, len(numbers)-v.Transmissions) + v.TransmissionsNo + v.NotCompleted
	v.Doubled = v.InvitedTwice + v.TransmissionsMulti + v.InvitesWithoutSpool
	return v, invites, nil
}

func (v *verdict) example(s string) {
	if len(v.Examples) < 20 {
		v.Examples = append(v.Examples, s)
	}
}
