package esltest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// execAPI runs an api command other than originate and returns its output,
// byte for byte what mod_commands writes.
func (s *Server) execAPI(ctx context.Context, name, arg string, hasArg bool) string {
	switch strings.ToLower(name) {
	case "status":
		return s.status()
	case "uuid_exists":
		if s.channel(strings.TrimSpace(arg)) != nil {
			return "true"
		}
		return "false"
	case "uuid_kill":
		return s.uuidKill(ctx, arg)
	case "uuid_broadcast":
		return s.uuidBroadcast(arg)
	case "module_exists":
		return s.moduleExists(strings.TrimSpace(arg))
	case "uuid_getvar":
		return s.uuidGetvar(arg)
	case "show":
		return s.show(arg)
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit (-release 64bit)\n"
	case "hostname":
		return s.opts.Hostname
	case "fsctl":
		return s.fsctl(ctx, arg)
	case "hash":
		return s.hashAPI(arg)
	}
	return "-ERR " + name + " Command not found!\n"
}

func (s *Server) uuidKill(ctx context.Context, arg string) string {
	if arg == "" {
		return "-USAGE: <uuid> [cause]\n"
	}
	uuid, causeArg, _ := strings.Cut(arg, " ")
	c := s.channel(uuid)
	if c == nil {
		return "-ERR No Such Channel!\n"
	}
	cause := CauseNormalClearing
	if causeArg != "" {
		cause = parseCause(causeArg)
	}
	c.requestHangup(ctx, cause)
	return "+OK\n"
}

func (s *Server) uuidGetvar(arg string) string {
	uuid, name, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok || name == "" {
		return "-USAGE: <uuid> <var>\n"
	}
	c := s.channel(uuid)
	if c == nil {
		return "-ERR No such channel!\n"
	}
	if v, ok := c.variable(strings.TrimSpace(name)); ok {
		return v
	}
	return "_undef_"
}

// status imitates "api status" of a 1.10 switch. Max sessions and sessions
// per second show FreeSWITCH's defaults (1000, 30) when unlimited here.
func (s *Server) status() string {
	s.mu.Lock()
	up := time.Since(s.started)
	live := len(s.channels)
	stats := s.stats
	perSec := 0
	for _, t := range s.recent {
		if time.Since(t) < time.Second {
			perSec++
		}
	}
	maxSessions, sps := s.opts.MaxSessions, s.opts.SessionsPerSecond
	s.mu.Unlock()
	if maxSessions == 0 {
		maxSessions = 1000
	}
	if sps == 0 {
		sps = 30
	}
	days := int(up / (24 * time.Hour))
	return fmt.Sprintf("UP %d years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n"+
		"FreeSWITCH (Version 1.10.12 -release 64bit) is ready\n"+
		"%d session(s) since startup\n"+
		"%d session(s) - peak %d, last 5min %d\n"+
		"%d session(s) per Sec out of max %d, peak %d, last 5min %d\n"+
		"%d session(s) max\n"+
		"min idle cpu 0.00/99.00\n"+
		"Current Stack Size/Max 240K/8192K\n",
		days/365, days%365, int(up.Hours())%24, int(up.Minutes())%60, int(up.Seconds())%60,
		up.Milliseconds()%1000, up.Microseconds()%1000,
		stats.Channels,
		live, stats.PeakChannels, stats.Channels,
		perSec, sps, stats.MaxOriginatesPerSecond, stats.Originates,
		maxSessions)
}

// channelRow is one row of "show channels": the columns of the core
// database's channels table, in order.
type channelRow struct {
	UUID            string `json:"uuid"`
	Direction       string `json:"direction"`
	Created         string `json:"created"`
	CreatedEpoch    string `json:"created_epoch"`
	Name            string `json:"name"`
	State           string `json:"state"`
	CIDName         string `json:"cid_name"`
	CIDNum          string `json:"cid_num"`
	IPAddr          string `json:"ip_addr"`
	Dest            string `json:"dest"`
	Application     string `json:"application"`
	ApplicationData string `json:"application_data"`
	Dialplan        string `json:"dialplan"`
	Context         string `json:"context"`
	ReadCodec       string `json:"read_codec"`
	ReadRate        string `json:"read_rate"`
	ReadBitRate     string `json:"read_bit_rate"`
	WriteCodec      string `json:"write_codec"`
	WriteRate       string `json:"write_rate"`
	WriteBitRate    string `json:"write_bit_rate"`
	Secure          string `json:"secure"`
	Hostname        string `json:"hostname"`
	PresenceID      string `json:"presence_id"`
	PresenceData    string `json:"presence_data"`
	AccountCode     string `json:"accountcode"`
	CallState       string `json:"callstate"`
	CalleeName      string `json:"callee_name"`
	CalleeNum       string `json:"callee_num"`
	CalleeDirection string `json:"callee_direction"`
	CallUUID        string `json:"call_uuid"`
	SentCalleeName  string `json:"sent_callee_name"`
	SentCalleeNum   string `json:"sent_callee_num"`
	InitialCIDName  string `json:"initial_cid_name"`
	InitialCIDNum   string `json:"initial_cid_num"`
	InitialIPAddr   string `json:"initial_ip_addr"`
	InitialDest     string `json:"initial_dest"`
	InitialDialplan string `json:"initial_dialplan"`
	InitialContext  string `json:"initial_context"`
}

func (s *Server) rows() []channelRow {
	chans := s.Channels()
	rows := make([]channelRow, len(chans))
	for i, c := range chans {
		r := channelRow{
			UUID: c.UUID, Direction: "outbound", Created: stamp(c.Created),
			CreatedEpoch: strconv.FormatInt(c.Created.Unix(), 10), Name: c.Name, State: c.State,
			CIDName: c.CallerName, CIDNum: c.CallerID, Dest: c.Destination,
			Context: c.Context, Hostname: s.opts.Hostname, CallState: c.CallState, CallUUID: c.UUID,
			InitialCIDName: c.CallerName, InitialCIDNum: c.CallerID, InitialDest: c.Destination,
			InitialContext: c.Context,
		}
		if c.Answered {
			r.Application, r.ApplicationData = c.Application, c.AppArgs
			r.CIDName, r.CIDNum = "Outbound Call", c.Destination
			r.ReadCodec, r.ReadRate, r.ReadBitRate = "PCMU", "8000", "64000"
			r.WriteCodec, r.WriteRate, r.WriteBitRate = "PCMU", "8000", "64000"
			r.IPAddr = peerIP
		}
		rows[i] = r
	}
	return rows
}

// show supports "show channels" and "show channels as json".
func (s *Server) show(arg string) string {
	words := strings.Fields(strings.ToLower(arg))
	if len(words) == 0 || words[0] != "channels" {
		return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
	}
	rows := s.rows()
	if len(words) >= 3 && words[1] == "as" && words[2] == "json" {
		if len(rows) == 0 {
			return "{\"row_count\": 0}\n" // FreeSWITCH's literal, space included
		}
		out, _ := json.Marshal(struct {
			RowCount int          `json:"row_count"`
			Rows     []channelRow `json:"rows"`
		}{len(rows), rows}) // cannot fail: strings only
		return string(out) + "\n"
	}
	// The default CSV output.
	var b strings.Builder
	b.WriteString("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context\n")
	for _, r := range rows {
		fields := []string{r.UUID, r.Direction, r.Created, r.CreatedEpoch, r.Name, r.State, r.CIDName, r.CIDNum,
			r.IPAddr, r.Dest, r.Application, r.ApplicationData, r.Dialplan, r.Context, r.ReadCodec, r.ReadRate,
			r.ReadBitRate, r.WriteCodec, r.WriteRate, r.WriteBitRate, r.Secure, r.Hostname, r.PresenceID,
			r.PresenceData, r.AccountCode, r.CallState, r.CalleeName, r.CalleeNum, r.CalleeDirection, r.CallUUID,
			r.SentCalleeName, r.SentCalleeNum, r.InitialCIDName, r.InitialCIDNum, r.InitialIPAddr, r.InitialDest,
			r.InitialDialplan, r.InitialContext}
		b.WriteString(strings.Join(fields, ","))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n%d total.\n", len(rows))
	return b.String()
}

// newChannel prepares the channel for an admitted originate.
func (s *Server) newChannel(o Originate, b Behaviour, j *job, origin *conn) *channel {
	c := &channel{
		srv:        s,
		uuid:       o.UUID,
		orig:       o,
		beh:        b,
		job:        j,
		origin:     origin,
		dest:       o.Destination,
		cidNum:     o.CallerIDNumber,
		cidName:    o.CallerIDName,
		timeout:    o.Timeout,
		ssrc:       randomUint32(),
		callID:     newUUID(),
		hangups:    make(chan hangupRequest, 1),
		broadcasts: make(chan broadcast, 4),
		finished:   make(chan struct{}),
		name:       o.Endpoint,
	}
	if c.cidNum == "" {
		c.cidNum = "0000000000" // SWITCH_DEFAULT_CLID_NUMBER
	}
	parts := strings.Split(o.Endpoint, "/")
	if len(parts) >= 4 && strings.EqualFold(parts[0], "sofia") && strings.EqualFold(parts[1], "gateway") {
		c.gateway = parts[2]
		c.name = "sofia/" + sofiaProfile + "/" + c.dest
	}
	return c
}
