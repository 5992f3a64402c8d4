package sip

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// A call's SIP identity is a pure function of the spool's call UUID: the
// Call-ID is the UUID, and the From tag and the Via branch of each INVITE
// are hashes of it. A process that starts after a crash can then rebuild
// the INVITE transaction it must CANCEL, and recognise a late 200 OK as
// one of ours, with nothing saved but the spool.

// inviteCSeq is the CSeq of the first INVITE; the one answering a digest
// challenge has inviteCSeq+1.
const inviteCSeq = 1

// maxInvites is how many INVITEs a call sends: the first and, when the
// trunk challenges it, one with credentials.
const maxInvites = 2

func derive(callUUID, what string) string {
	sum := sha256.Sum256([]byte("dialerd/sip/" + what + "/" + callUUID))
	return hex.EncodeToString(sum[:])
}

// fromTag is our tag of a call's dialog.
func fromTag(callUUID string) string { return derive(callUUID, "from-tag")[:20] }

// inviteBranch is the Via branch of the n-th INVITE (1 or 2) of a call,
// with RFC 3261's magic cookie.
func inviteBranch(callUUID string, n int) string {
	return "z9hG4bK" + derive(callUUID, "invite/"+strconv.Itoa(n))[:24]
}

// callUUIDOf reads the call UUID back from a Call-ID of ours: calls use it
// as is.
func callUUIDOf(callID string) (string, bool) {
	if !validCallID(callID) {
		return "", false
	}
	return callID, true
}

// dialogVersion is the version of the saved dialog format.
const dialogVersion = 1

// savedDialog is what another process needs to end an answered call
// (RFC 3261 12.2.1.1): it is handed to the engine in ProgressAnswered and
// comes back in RecoverSpool.Dialog. JSON keeps it readable in the store
// and lets a later version add fields.
type savedDialog struct {
	Version   int    `json:"v"`
	CallID    string `json:"call_id"`
	LocalURI  string `json:"local_uri"` // From, without display name
	LocalTag  string `json:"local_tag"`
	RemoteURI string `json:"remote_uri"` // To
	RemoteTag string `json:"remote_tag"`
	// CSeq is the last CSeq we used in the dialog (the INVITE's); an
	// in-dialog request from another process uses a higher one.
	CSeq uint32 `json:"cseq"`
	// RemoteTarget is the Contact of the 2xx: where in-dialog requests go.
	RemoteTarget string `json:"remote_target"`
	// RouteSet is the 2xx's Record-Route reversed, as Route headers.
	RouteSet  []string `json:"route_set,omitempty"`
	Transport string   `json:"transport"` // UDP or TCP
	// Peer is the address the 2xx came from (host:port).
	Peer string `json:"peer,omitempty"`
}

// dialogOf records the dialog an INVITE and its 2xx established.
func dialogOf(inv *sip.Request, res *sip.Response) (savedDialog, error) {
	return newDialog(inv.From(), res.To(), inv.CallID(), inv.CSeq(), inv.Transport(), res, inv.Recipient.String())
}

// newDialog is the dialog of a 2xx, with the INVITE's From, Call-ID, CSeq
// and transport; fallbackTarget is the remote target when the 2xx has no
// Contact.
func newDialog(from *sip.FromHeader, to *sip.ToHeader, callID *sip.CallIDHeader, cseq *sip.CSeqHeader,
	transport string, res *sip.Response, fallbackTarget string) (savedDialog, error) {
	if from == nil || to == nil || callID == nil || cseq == nil {
		return savedDialog{}, errors.New("sip: answer without dialog headers")
	}
	d := savedDialog{
		Version:   dialogVersion,
		CallID:    callID.Value(),
		LocalURI:  from.Address.String(),
		RemoteURI: to.Address.String(),
		CSeq:      cseq.SeqNo,
		Transport: strings.ToUpper(transport),
		Peer:      res.Source(),
	}
	d.LocalTag, _ = from.Params.Get("tag")
	d.RemoteTag, _ = to.Params.Get("tag")
	d.RemoteTarget = fallbackTarget
	if c := res.Contact(); c != nil {
		d.RemoteTarget = c.Address.String()
	}
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		d.RouteSet = append(d.RouteSet, rr[i].Value())
	}
	return d, nil
}

func (d savedDialog) marshal() []byte {
	b, _ := json.Marshal(d) // strings and numbers only: cannot fail
	return b
}

func parseDialog(b []byte) (savedDialog, error) {
	var d savedDialog
	if err := json.Unmarshal(b, &d); err != nil {
		return savedDialog{}, fmt.Errorf("sip: saved dialog: %w", err)
	}
	if d.Version != dialogVersion {
		return savedDialog{}, fmt.Errorf("sip: saved dialog version %d, want %d", d.Version, dialogVersion)
	}
	if !validCallID(d.CallID) || d.LocalTag == "" || d.RemoteTag == "" || d.RemoteTarget == "" {
		return savedDialog{}, errors.New("sip: saved dialog lacks its identity")
	}
	return d, nil
}

// request builds an in-dialog request of a saved dialog with CSeq seq; it
// has no Via (the client adds one).
func (d savedDialog) request(method sip.RequestMethod, seq uint32, userAgent string) (*sip.Request, error) {
	var target, local, remote sip.Uri
	if err := sip.ParseUri(d.RemoteTarget, &target); err != nil {
		return nil, fmt.Errorf("sip: saved remote target: %w", err)
	}
	if err := sip.ParseUri(d.LocalURI, &local); err != nil {
		return nil, fmt.Errorf("sip: saved local uri: %w", err)
	}
	if err := sip.ParseUri(d.RemoteURI, &remote); err != nil {
		return nil, fmt.Errorf("sip: saved remote uri: %w", err)
	}
	req := sip.NewRequest(method, target)
	from := sip.FromHeader{Address: local, Params: sip.NewParams()}
	from.Params.Add("tag", d.LocalTag)
	to := sip.ToHeader{Address: remote, Params: sip.NewParams()}
	to.Params.Add("tag", d.RemoteTag)
	callID := sip.CallIDHeader(d.CallID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	for _, r := range d.RouteSet {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	transport := d.Transport
	if transport == "" {
		transport = "UDP"
	}
	req.SetTransport(transport)
	req.SetBody(nil)
	return req, nil
}
