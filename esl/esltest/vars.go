package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// varList holds channel variables in the order FreeSWITCH prints them:
// setting a variable again removes it and appends it, which is why the
// fixtures show sip_to_host or call_uuid moving down between events.
type varList []Header

func (l *varList) set(name, value string) {
	for i, h := range *l {
		if h.Name == name {
			*l = append((*l)[:i], (*l)[i+1:]...)
			break
		}
	}
	*l = append(*l, Header{name, value})
}

func (l varList) get(name string) (string, bool) {
	for _, h := range l {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// Addresses the fake pretends to use. The peer sits in TEST-NET-1 so that
// nothing in a test can mistake it for a reachable host.
const (
	localIP  = "127.0.0.1"
	sipPort  = "5080"
	peerIP   = "192.0.2.10"
	peerPort = "5060"
)

// initVars are the variables a sofia channel has when CHANNEL_CREATE fires.
func (c *channel) initVars() {
	v := &c.vars
	v.set("direction", "outbound")
	v.set("is_outbound", "true")
	v.set("uuid", c.uuid)
	v.set("call_uuid", c.uuid)
	v.set("session_id", strconv.Itoa(c.sessionID))
	if c.gateway != "" {
		v.set("sip_gateway_name", c.gateway)
	}
	v.set("sip_local_network_addr", localIP)
	v.set("sip_profile_name", c.sipProfileName())
	v.set("video_media_flow", "disabled")
	v.set("text_media_flow", "disabled")
	v.set("channel_name", c.name)
	v.set("sip_destination_url", "sip:"+c.dest+"@"+peerIP+":"+peerPort)
	nested := strings.Contains(strings.ToLower(c.orig.DialString), "origination_nested_vars=true")
	for _, ov := range c.orig.Vars {
		if !nested && varCheck(ov.Value) {
			// switch_channel_set_variable_var_check: "Invalid data
			// (${name} contains a variable)", and the variable is not set.
			continue
		}
		v.set(ov.Name, ov.Value)
	}
	// The caller id arguments become the origination variables.
	if _, ok := v.get("origination_caller_id_name"); !ok && c.cidName != "" {
		v.set("origination_caller_id_name", c.cidName)
	}
	v.set("originate_early_media", "true")
	v.set("originate_endpoint", c.endpointType())
	v.set("rtp_use_codec_string", "PCMU,PCMA")
	v.set("local_media_ip", localIP)
	v.set("local_media_port", strconv.Itoa(c.rtpPort))
	v.set("advertised_media_ip", localIP)
	v.set("audio_media_flow", "sendrecv")
	v.set("rtp_local_sdp_str", c.localSDP())
	v.set("sip_outgoing_contact_uri", "<sip:gw+"+c.gatewayOr("mod_sofia")+"@"+localIP+":"+sipPort+";transport=udp;gw="+c.gatewayOr("mod_sofia")+">")
	v.set("sip_req_uri", c.dest+"@"+peerIP+":"+peerPort)
	v.set("sip_to_host", peerIP+":"+peerPort)
	v.set("sip_from_host", localIP)
	v.set("sofia_profile_name", sofiaProfile)
	v.set("recovery_profile_name", sofiaProfile)
	v.set("sofia_profile_url", "sip:mod_sofia@"+localIP+":"+sipPort)
}

// peerVars are learnt from the peer's first provisional response (180).
func (c *channel) peerVars() {
	v := &c.vars
	v.set("sip_local_network_addr", localIP)
	v.set("sip_reply_host", peerIP)
	v.set("sip_reply_port", peerPort)
	v.set("sip_network_ip", peerIP)
	v.set("sip_network_port", peerPort)
	v.set("sip_recover_contact", "<sip:"+peerIP+":"+peerPort+";transport=UDP>")
	via := "SIP/2.0/UDP " + localIP + ":" + sipPort + ";rport;branch=z9hG4bK" + c.tag("branch")
	v.set("sip_full_via", via)
	v.set("sip_recover_via", via)
	v.set("sip_full_from", "<sip:"+c.cidNum+"@"+localIP+">;tag="+c.tag("from"))
	v.set("sip_full_to", "<sip:"+c.dest+"@"+peerIP+":"+peerPort+">;tag="+c.tag("to"))
	if c.cidName != "" {
		v.set("sip_from_display", c.cidName)
	}
	v.set("sip_from_user", c.cidNum)
	v.set("sip_from_uri", c.cidNum+"@"+localIP)
	v.set("sip_from_host", localIP)
	v.set("sip_to_user", c.dest)
	v.set("sip_to_port", peerPort)
	v.set("sip_to_uri", c.dest+"@"+peerIP+":"+peerPort)
	v.set("sip_to_host", peerIP)
	v.set("sip_contact_params", "transport=UDP")
	v.set("sip_contact_user", c.dest)
	v.set("sip_contact_port", peerPort)
	v.set("sip_contact_uri", c.dest+"@"+peerIP+":"+peerPort)
	v.set("sip_contact_host", peerIP)
	v.set("sip_to_tag", c.tag("to"))
	v.set("sip_from_tag", c.tag("from"))
	v.set("sip_cseq", strconv.Itoa(100000+c.sessionID))
	v.set("sip_call_id", c.callID)
}

// mediaVars are set when the 200 OK's SDP is negotiated.
func (c *channel) mediaVars() {
	v := &c.vars
	v.set("switch_r_sdp", "v=0\r\no=peer 1 1 IN IP4 "+peerIP+"\r\ns=-\r\nc=IN IP4 "+peerIP+"\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0"+c.dtmfPT()+"\r\na=rtpmap:0 PCMU/8000\r\n")
	v.set("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b")
	v.set("rtp_use_codec_string", "PCMU,PCMA")
	v.set("remote_video_media_flow", "inactive")
	v.set("remote_text_media_flow", "inactive")
	v.set("remote_audio_media_flow", "sendrecv")
	v.set("rtp_audio_recv_pt", "0")
	v.set("rtp_use_codec_name", "PCMU")
	v.set("rtp_use_codec_rate", "8000")
	v.set("rtp_use_codec_ptime", "20")
	v.set("rtp_use_codec_channels", "1")
	v.set("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c")
	v.set("read_codec", "PCMU")
	v.set("original_read_codec", "PCMU")
	v.set("read_rate", "8000")
	v.set("original_read_rate", "8000")
	v.set("write_codec", "PCMU")
	v.set("write_rate", "8000")
	if c.beh.DTMF != "" {
		v.set("dtmf_type", "rfc2833")
	} else {
		v.set("dtmf_type", "info")
	}
	v.set("local_media_ip", localIP)
	v.set("local_media_port", strconv.Itoa(c.rtpPort))
	v.set("advertised_media_ip", localIP)
	v.set("rtp_use_timer_name", "soft")
	v.set("rtp_use_pt", "0")
	v.set("rtp_use_ssrc", strconv.FormatUint(uint64(c.ssrc), 10))
	if c.beh.DTMF != "" || c.beh.TelephoneEvent {
		// Only present when the peer offers telephone-event, as in dtmf.txt.
		v.set("rtp_2833_send_payload", "101")
		v.set("rtp_2833_recv_payload", "101")
	}
	v.set("remote_media_ip", peerIP)
	v.set("remote_media_port", "6000")
}

// execVars are set once the originate's application runs on the answered
// channel.
func (c *channel) execVars() {
	v := &c.vars
	v.set("endpoint_disposition", "ANSWER")
	v.set("pre_transfer_caller_id_number", c.cidNum)
	if c.cidName != "" {
		v.set("pre_transfer_caller_id_name", c.cidName)
	}
	v.set("channel_cid_flipped", "yes")
	v.set("call_uuid", c.uuid)
	if c.orig.Application != "" {
		v.set("current_application_data", c.orig.AppArgs)
		v.set("current_application", c.orig.Application)
	}
}

// appDoneVars are left by the application when the call ends; playback
// reports what it played.
func (c *channel) appDoneVars(now time.Time) {
	if !strings.EqualFold(c.orig.Application, "playback") {
		return
	}
	ms := now.Sub(c.answeredAt).Milliseconds()
	v := &c.vars
	v.set("playback_last_offset_pos", strconv.FormatInt(ms*8, 10))
	v.set("playback_seconds", strconv.FormatInt(ms/1000, 10))
	v.set("playback_ms", strconv.FormatInt(ms, 10))
	v.set("playback_samples", strconv.FormatInt(ms*8, 10))
	v.set("current_application_response", "FILE PLAYED")
}

// refusalVars record the peer's (or the local stack's) final error.
func (c *channel) refusalVars(status int, phrase, causeName string) {
	v := &c.vars
	v.set("sip_call_id", c.callID)
	v.set("sip_local_network_addr", localIP)
	if c.beh.Unreachable {
		v.set("sip_reply_port", "0")
		v.set("sip_network_port", "0")
	} else {
		v.set("sip_reply_host", peerIP)
		v.set("sip_reply_port", peerPort)
		v.set("sip_network_ip", peerIP)
		v.set("sip_network_port", peerPort)
	}
	v.set("sip_hangup_disposition", "recv_refuse")
	v.set("sip_invite_failure_status", strconv.Itoa(status))
	v.set("sip_invite_failure_phrase", phrase)
	v.set("sip_term_status", strconv.Itoa(status))
	v.set("proto_specific_hangup_cause", "sip:"+strconv.Itoa(status))
	v.set("sip_term_cause", strconv.Itoa(q850(causeName)))
}

// cdrVars are computed by switch_channel_set_timestamps before
// CHANNEL_HANGUP_COMPLETE.
func (c *channel) cdrVars() {
	v := &c.vars
	v.set("hangup_cause", c.cause)
	v.set("hangup_cause_q850", strconv.Itoa(q850(c.cause)))
	v.set("digits_dialed", "none")
	v.set("start_stamp", stamp(c.created))
	v.set("profile_start_stamp", stamp(c.created))
	if !c.answeredAt.IsZero() {
		v.set("answer_stamp", stamp(c.answeredAt))
	}
	if !c.progressAt.IsZero() {
		v.set("progress_stamp", stamp(c.progressAt))
	}
	v.set("end_stamp", stamp(c.hungupAt))
	epochs := func(name string, t time.Time) {
		v.set(name+"_epoch", strconv.FormatInt(epoch(t), 10))
		v.set(name+"_uepoch", strconv.FormatInt(uepoch(t), 10))
	}
	epochs("start", c.created)
	epochs("profile_start", c.created)
	epochs("answer", c.answeredAt)
	epochs("bridge", time.Time{})
	epochs("last_hold", time.Time{})
	v.set("hold_accum_seconds", "0")
	v.set("hold_accum_usec", "0")
	v.set("hold_accum_ms", "0")
	epochs("resurrect", time.Time{})
	epochs("progress", c.progressAt)
	epochs("progress_media", time.Time{})
	epochs("end", c.hungupAt)
	if c.executing && c.orig.Application != "" {
		v.set("last_app", c.orig.Application)
		v.set("last_arg", c.orig.AppArgs)
	}
	if c.executing {
		v.set("caller_id", fmt.Sprintf("%q <%s>", "Outbound Call", c.dest))
	} else {
		v.set("caller_id", c.cidNum)
	}
	since := func(from, to time.Time) time.Duration {
		if from.IsZero() || to.IsZero() {
			return 0
		}
		return to.Sub(from)
	}
	total := since(c.created, c.hungupAt)
	var flow time.Duration
	if !c.answeredAt.IsZero() {
		flow = total
	}
	// The order of values matches the names in each group below.
	values := [7]time.Duration{
		total, since(c.answeredAt, c.hungupAt), since(c.created, c.progressAt),
		since(c.created, c.answeredAt), 0, 0, flow,
	}
	groups := []struct {
		unit  time.Duration
		names [7]string
	}{
		{time.Second, [7]string{"duration", "billsec", "progresssec", "answersec", "waitsec", "progress_mediasec", "flow_billsec"}},
		{time.Millisecond, [7]string{"mduration", "billmsec", "progressmsec", "answermsec", "waitmsec", "progress_mediamsec", "flow_billmsec"}},
		{time.Microsecond, [7]string{"uduration", "billusec", "progressusec", "answerusec", "waitusec", "progress_mediausec", "flow_billusec"}},
	}
	for _, g := range groups {
		for i, n := range g.names {
			v.set(n, strconv.FormatInt(int64(values[i]/g.unit), 10))
		}
	}
}

// rtpStatsVars close an answered call's CDR.
func (c *channel) rtpStatsVars() {
	packets := int64(c.hungupAt.Sub(c.answeredAt) / (20 * time.Millisecond))
	v := &c.vars
	in := []string{"raw_bytes", "media_bytes", "packet_count", "media_packet_count", "skip_packet_count",
		"jitter_packet_count", "dtmf_packet_count", "cng_packet_count", "flush_packet_count", "largest_jb_size"}
	for _, n := range in {
		val := "0"
		switch n {
		case "raw_bytes", "media_bytes":
			val = strconv.FormatInt(packets*172, 10)
		case "packet_count", "media_packet_count":
			val = strconv.FormatInt(packets, 10)
		case "dtmf_packet_count":
			val = strconv.Itoa(len(c.beh.DTMF) * 8)
		}
		v.set("rtp_audio_in_"+n, val)
	}
	for _, n := range []string{"jitter_min_variance", "jitter_max_variance", "jitter_loss_rate", "jitter_burst_rate", "mean_interval"} {
		v.set("rtp_audio_in_"+n, "0.00")
	}
	v.set("rtp_audio_in_flaw_total", "0")
	v.set("rtp_audio_in_quality_percentage", "100.00")
	v.set("rtp_audio_in_mos", "4.50")
	for _, n := range []string{"raw_bytes", "media_bytes"} {
		v.set("rtp_audio_out_"+n, strconv.FormatInt(packets*172, 10))
	}
	for _, n := range []string{"packet_count", "media_packet_count"} {
		v.set("rtp_audio_out_"+n, strconv.FormatInt(packets, 10))
	}
	for _, n := range []string{"skip_packet_count", "dtmf_packet_count", "cng_packet_count"} {
		v.set("rtp_audio_out_"+n, "0")
	}
	v.set("rtp_audio_rtcp_packet_count", "0")
	v.set("rtp_audio_rtcp_octet_count", "0")
}

func (c *channel) localSDP() string {
	return "v=0\r\no=FreeSWITCH " + strconv.Itoa(1700000000+c.sessionID) + " " + strconv.Itoa(1700000001+c.sessionID) +
		" IN IP4 " + localIP + "\r\ns=FreeSWITCH\r\nc=IN IP4 " + localIP + "\r\nt=0 0\r\nm=audio " + strconv.Itoa(c.rtpPort) +
		" RTP/AVP 0 8 101 13\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-15\r\na=rtpmap:13 CN/8000\r\na=ptime:20\r\na=sendrecv\r\n"
}

func (c *channel) dtmfPT() string {
	if c.beh.DTMF != "" || c.beh.TelephoneEvent {
		return " 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16"
	}
	return ""
}

// tag derives a stable SIP tag for this channel.
func (c *channel) tag(kind string) string {
	return fmt.Sprintf("%s%x", kind[:1], c.ssrc^uint32(len(kind))*2654435761)
}

// stamp formats a time like Event-Date-Local and the *_stamp variables.
func stamp(t time.Time) string { return t.Local().Format(time.DateTime) }

func epoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func uepoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}
