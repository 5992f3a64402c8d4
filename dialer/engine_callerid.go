package dialer

import (
	"fmt"
	"slices"
	"time"
)

// callerIDRefusal says why route p may not carry the caller id an item
// presents; "" when it may. A number must be a DID of the tenant's
// accounts or on the provider's caller_ids allow-list. An attempt that
// presents no number shows the trunk's own identity (its username); with
// none either it goes out anonymous, which only a provider that sets
// allow_anonymous carries. SMS and e-mail present no caller id.
func (e *Engine) callerIDRefusal(it *workItem, svc int, p *providerState) string {
	if e.comp == nil || (svc != ServiceVoice && svc != ServiceFax) {
		return ""
	}
	number := CallerIDNumber(it.CallerID)
	if number == "" {
		if !anonymous(number, p.route) || p.info.AllowAnonymous {
			return ""
		}
		return fmt.Sprintf("the attempt presents no caller id and provider %d (%s) has no username to present: it would go out anonymous, "+
			"which the provider does not allow (set \"allow_anonymous\": true in its settings, or give the campaign a did account)", p.info.ID, p.info.Name)
	}
	if slices.Contains(p.info.CallerIDs, number) || slices.Contains(e.tenantCompliance(it.TenantID).DIDs, number) {
		return ""
	}
	return fmt.Sprintf("the caller id %s is not allowed on provider %d (%s): it is neither a DID of the tenant's accounts "+
		"nor on the provider's caller_ids allow-list", number, p.info.ID, p.info.Name)
}

// callerIDRefused ends the try of an item whose caller id no route of the
// tenant may present, before anything is written or dialled: a content
// (configuration) fault through the one table. A campaign is blocked with
// the reason, so it says why it cannot dial rather than stalling; a
// single transmission fails with the reason as its response.
func (e *Engine) callerIDRefused(r *campaignRun, it *workItem, why string, now time.Time) (consumed, dialed bool, retry time.Time) {
	err := ContentFault("caller_id", InvalidField("account_id", why))
	v := ClassifyError(err)
	if r != nil {
		e.block(r, Blocked{Reason: v.Cause + ": " + why, Field: "account_id", Fault: v.Fault.String()}, true, now)
		return false, false, time.Time{}
	}
	resp := v.Cause + ": " + why
	e.unqueue(r, it)
	e.store.Record(TransmissionChanged{TransmissionID: it.TransmissionID, Status: TransmissionFailed, Response: resp})
	e.publish(Event{Type: EventTransmissionStatus, At: now, TenantID: it.TenantID, OwnerID: it.OwnerID,
		TransmissionID: it.TransmissionID, Status: string(TransmissionFailed), Response: resp, Field: "account_id", Fault: v.Fault.String()})
	e.failWaiters(it.TransmissionID, InvalidField("account_id", why))
	return true, false, time.Time{}
}

// presentedCallerID is what an attempt shows the callee, as the record
// keeps it: its number; "" when it has none and the trunk presents its
// own identity (its username); "anonymous" when there is neither.
func presentedCallerID(att Attempt) string {
	switch {
	case att.CallerIDNumber != "":
		return att.CallerIDNumber
	case anonymous(att.CallerIDNumber, att.Provider) && att.Provider.Gateway != GatewayKannel && att.Provider.Gateway != GatewaySendmail:
		return "anonymous"
	}
	return ""
}

// anonymous is the rule both the refusal and the record follow: a call
// that presents no number, on a trunk with no identity of its own (no
// username), reaches the callee anonymous.
func anonymous(number string, r Route) bool { return number == "" && r.Username == "" }
