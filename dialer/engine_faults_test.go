package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// events collects the bus's events of some types.
func (h *harness) events(types ...dialer.EventType) func() []dialer.Event {
	sub := h.bus.Subscribe(4096)
	h.t.Cleanup(sub.Close)
	want := map[dialer.EventType]bool{}
	for _, t := range types {
		want[t] = true
	}
	var got []dialer.Event
	return func() []dialer.Event {
		for {
			select {
			case ev := <-sub.C():
				if want[ev.Type] {
					got = append(got, ev)
				}
			default:
				return got
			}
		}
	}
}

// Content a gateway cannot carry is charged to the content: that
// transmission fails final, its campaign is blocked with the reason and
// keeps its work, and the trunk is not backed off, so another campaign on
// it goes on (issue 10, item 3). Before: a plain gateway error, the
// provider backed off and the try given back, for ever.
func TestContentFaultBlocksItsCampaignNotTheTrunk(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = 10 * time.Minute
	h := newHarness(t, cfg, answering())
	p := h.provider("trunk", 1, 0, "")
	h.start()
	evs := h.events(dialer.EventCampaignBlocked, dialer.EventCampaignUnblocked)
	bad, badContacts := h.campaign(5, 0, 60, 3, 60)
	good, _ := h.campaign(5, 100, 60, 3, 60)
	refused := dialer.ContentFault("text", errors.New(`speak text "a|b" cannot be carried`))
	for i := range badContacts {
		h.gw.Script(fmt.Sprintf("+1555%07d", i), memgateway.Script{Kind: memgateway.GatewayError, Err: refused}, answering())
	}
	h.startCampaign(bad)
	h.startCampaign(good)
	h.advance(time.Minute)

	status := func(c int64) map[string]int64 {
		out := map[string]int64{}
		for _, s := range h.pairs(`SELECT transmission_id, status FROM transmissions WHERE campaign_id = ?`, c) {
			out[s]++
		}
		return out
	}
	if got := status(bad); got["failed"] != 1 || got["pending"] != 4 {
		t.Fatalf("blocked campaign's transmissions: %v", got)
	}
	if got := h.pairs(`SELECT s.spool_id, s.response FROM spools s JOIN transmissions t USING (transmission_id) WHERE t.campaign_id = ?`, bad); len(got) != 1 {
		t.Fatalf("blocked campaign's spools: %v", got)
	}
	if got := status(good); got["completed"] != 5 {
		t.Fatalf("the other campaign on the same trunk: %v", got)
	}
	b := h.eng.CampaignBlocked(h.tenant, bad)
	if b == nil || b.Field != "text" || b.Fault != "content" {
		t.Fatalf("CampaignBlocked = %+v", b)
	}
	if e := evs(); len(e) != 1 || e[0].Type != dialer.EventCampaignBlocked || e[0].Field != "text" || e[0].CampaignID != bad {
		t.Fatalf("events %+v", e)
	}
	if n := h.count(`SELECT COUNT(*) FROM campaigns WHERE campaign_id = ? AND status = 'active'`, bad); n != 1 {
		t.Fatal("the blocked campaign is no longer active")
	}

	// The fix: the content is changed, which unblocks it without a restart.
	for i := range badContacts {
		h.gw.Script(fmt.Sprintf("+1555%07d", i), answering())
	}
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	if got := status(bad); got["completed"] != 4 || got["failed"] != 1 {
		t.Fatalf("after the fix: %v", got)
	}
	if h.eng.CampaignBlocked(h.tenant, bad) != nil {
		t.Fatal("still blocked after the fix")
	}
	_ = p
}

// A campaign whose tenant has no provider serving its program says so
// within a second, and a provider fix unblocks it without a restart
// (issue 10, item 4). Before: active, pending, no word, for ever.
func TestCampaignWithoutProviderIsBlockedWithAReason(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	p := h.f.Provider(h.tenant, h.owner, "serves-nothing", 0, 1, 0, "")
	h.start()
	evs := h.events(dialer.EventCampaignBlocked, dialer.EventCampaignUnblocked)
	id, _ := h.campaign(3, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(time.Second)
	b := h.eng.CampaignBlocked(h.tenant, id)
	if b == nil || b.Field != "service_flag" {
		t.Fatalf("CampaignBlocked = %+v", b)
	}
	if got := h.eng.BlockedCampaigns(); len(got) != 1 || got[0].CampaignID != id {
		t.Fatalf("BlockedCampaigns = %+v", got)
	}
	h.f.Exec(`UPDATE providers SET service_flag = 1 WHERE provider_id = ?`, p)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'completed'`, id); n != 3 {
		t.Fatalf("%d completed after the fix", n)
	}
	e := evs()
	if len(e) != 2 || e[0].Type != dialer.EventCampaignBlocked || e[1].Type != dialer.EventCampaignUnblocked {
		t.Fatalf("events %+v", e)
	}
}

// A provider of a gateway kind the daemon does not run blocks its campaign
// naming the config key to set; nothing is dialled or spent.
func TestCampaignOnAGatewayNotConfiguredIsBlocked(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	p := h.provider("sip-trunk", 1, 0, "")
	h.f.Exec(`UPDATE providers SET gateway_flag = 8 WHERE provider_id = ?`, p)
	router := dialer.NewGatewayRouter(map[int64]dialer.Gateway{dialer.GatewayFreeSWITCH: h.gw})
	router.NotConfigured(dialer.GatewaySIP, "sip.listen")
	h.gateway = router
	h.start()
	id, _ := h.campaign(3, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(time.Second)
	b := h.eng.CampaignBlocked(h.tenant, id)
	if b == nil || b.Field != "sip.listen" {
		t.Fatalf("CampaignBlocked = %+v", b)
	}
	if n := len(h.gw.Records()); n != 0 {
		t.Fatalf("%d calls placed", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'pending' AND try_done = 0`, id); n != 3 {
		t.Fatalf("%d untouched transmissions of 3", n)
	}
}

// A route fault (no response, node down) moves the attempt to another
// route at once and spends no try (issue 10, item 5).
func TestRouteFaultMovesTheAttemptWithoutSpendingTheTry(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = 2 * time.Second
	h := newHarness(t, cfg, answering())
	dead := h.provider("dead", 1, 0, "")
	alive := h.provider("alive", 10, 0, "")
	h.gw.ScriptProvider(dead, memgateway.Script{Kind: memgateway.GatewayError,
		Err: dialer.RouteFault("RECOVERY_ON_TIMER_EXPIRE", errors.New("no response within 4s"))})
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{})
	if _, err := h.eng.Send(context.Background(), h.tenant, tid); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	if got := h.pairs(`SELECT transmission_id, status || ' ' || try_done FROM transmissions`)[tid]; got != "completed 1" {
		t.Fatalf("transmission %q", got)
	}
	rs := h.gw.Records()
	if len(rs) != 2 || rs[0].ProviderID != dead || rs[1].ProviderID != alive || rs[1].Start.Sub(rs[0].Start) > time.Second {
		t.Fatalf("records %+v", rs)
	}
}

// One held single transmission never delays another that could go: a send
// whose only provider is backed off waits alone (issue 10, item 6).
func TestSingleSendsDoNotWaitBehindAHeldOne(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = 10 * time.Minute
	h := newHarness(t, cfg, answering())
	voiceTrunk := h.provider("voice", 1, 0, "")
	h.f.Provider(h.tenant, h.owner, "fax", dialer.ServiceFax, 1, 0, "")
	fax := h.f.Program(h.tenant, h.owner, dialer.ProgramSendFax)
	h.gw.ScriptProvider(voiceTrunk, memgateway.Script{Kind: memgateway.GatewayError})
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	held := h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{})
	if _, err := h.eng.Send(context.Background(), h.tenant, held); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	// The voice trunk is now backed off for 10 minutes; a fax must not wait.
	other := h.f.Transmission(h.tenant, h.owner, c, fax, 1, time.Time{})
	sent := make(chan error, 1)
	go func() { _, err := h.eng.Send(context.Background(), h.tenant, other); sent <- err }()
	h.advance(time.Second)
	if err := <-sent; err != nil {
		t.Fatalf("the fax waited behind the held voice send: %v", err)
	}
	h.advance(time.Minute)
	if got := h.pairs(`SELECT transmission_id, status FROM transmissions`); got[other] != "completed" || got[held] != "pending" {
		t.Fatalf("transmissions %v", got)
	}
}

// A route seen healthy again ends its back-off at once (issue 10, item 7):
// nothing is dialled while it is down, and dialing resumes on RouteUp, not
// after the back-off.
func TestRouteDownIsNotDialledAndResumesOnRouteUp(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = 10 * time.Minute
	h := newHarness(t, cfg, answering())
	p := h.provider("trunk", 1, 0, "")
	h.gw.ScriptProvider(p, memgateway.Script{Kind: memgateway.GatewayError, Err: dialer.RouteFault("", errors.New("node stopping"))})
	h.start()
	id, _ := h.campaign(20, 0, 600, 1, 60)
	h.startCampaign(id)
	h.advance(30 * time.Second)
	if n := len(h.gw.Records()); n != 1 {
		t.Fatalf("%d attempts on a route down", n)
	}
	if n := h.count(`SELECT SUM(try_done) FROM transmissions WHERE campaign_id = ?`, id); n != 0 {
		t.Fatalf("%d tries spent on a route down", n)
	}
	h.gw.UnscriptProvider(p)
	h.eng.RouteUp(dialer.RouteUp{ProviderID: p})
	h.advance(20 * time.Second)
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'completed'`, id); n != 20 {
		t.Fatalf("%d of 20 completed 20 s after RouteUp", n)
	}
}

// An answer seen for a call being recovered (a stray SIP 200 for the
// previous process's INVITE) is recorded, so the callee is never redialled.
func TestStrayAnswerIsRecorded(t *testing.T) {
	cfg := testConfig()
	h := newHarness(t, cfg, answering())
	h.provider("trunk", 1, 0, "")
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	h.gw.Script("+15550001", memgateway.Script{Kind: memgateway.Hang}, answering())
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 2, time.Time{})
	spool, err := h.eng.Send(context.Background(), h.tenant, tid)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	h.crash()
	h.gw.SetUnknown(true) // the new process cannot tell until the 200 shows up
	h.restart()
	uuid := h.pairs(`SELECT spool_id, call_uuid FROM spools`)[spool]
	h.eng.CallAnswered(uuid, h.clk.Now())
	h.clk.WaitSettled()
	if n := h.count(`SELECT COUNT(*) FROM spools WHERE spool_id = ? AND time_connect > 0 AND status = 'initiated'`, spool); n != 1 {
		t.Fatal("the stray answer was not recorded")
	}
	h.advance(20 * time.Minute) // the call must be over: closed from what was recorded
	got := h.pairs(`SELECT spool_id, status || ' ' || response FROM spools WHERE transmission_id = ?`, tid)
	if len(got) != 1 || got[spool] != "failed "+dialer.CauseAnsweredBeforeRestart {
		t.Fatalf("spools %v", got)
	}
}

// A gateway that loses sight of a call it may have placed (its node's
// connection gone past the grace) does not let the engine redial blind:
// the attempt is followed through recovery, holding its channel, until
// the gateway can tell.
func TestLostCallIsFollowedThroughRecovery(t *testing.T) {
	cfg := testConfig()
	cfg.RecheckInterval = 10 * time.Second
	h := newHarness(t, cfg, answering())
	h.provider("trunk", 1, 0, "")
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	lost := fmt.Errorf("node 1: connection lost: %w", dialer.ErrCallUnknown)
	h.gw.Script("+15550001", memgateway.Script{Kind: memgateway.GatewayError, Err: lost}, answering())
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 2, time.Time{})
	h.gw.SetUnknown(true)
	spool, err := h.eng.Send(context.Background(), h.tenant, tid)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	if got := h.pairs(`SELECT spool_id, status FROM spools WHERE transmission_id = ?`, tid); len(got) != 1 || got[spool] != "initiated" {
		t.Fatalf("while the gateway cannot tell: %v", got)
	}
	if h.gw.Recovers() == 0 {
		t.Fatal("recovery was never asked")
	}
	h.gw.SetUnknown(false)     // the node is back; it has no such call
	h.advance(3 * time.Minute) // one recheck, then the retry delay
	got := h.pairs(`SELECT spool_id, status || ' ' || response FROM spools WHERE transmission_id = ?`, tid)
	if got[spool] != "failed restart" || got[spool+1] != "completed NORMAL_CLEARING" || len(got) != 2 {
		t.Fatalf("spools %v", got)
	}
}

// A running campaign's counters are readable without the loop, as the
// engine keeps them; once it completes the store's count is the truth.
func TestCampaignCountersWhileRunning(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: time.Minute})
	h.provider("trunk", 1, 0, "")
	h.start()
	id, _ := h.campaign(4, 0, 600, 1, 60)
	h.startCampaign(id)
	h.advance(5 * time.Second)
	cc, ok := h.eng.CampaignCounters(id)
	if !ok || cc.Total != 4 || cc.InFlight != 4 {
		t.Fatalf("running: %+v, %v", cc, ok)
	}
	h.advance(2 * time.Minute)
	if _, ok := h.eng.CampaignCounters(id); ok {
		t.Fatal("counters of a completed campaign are still served")
	}
}
