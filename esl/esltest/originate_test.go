package esltest_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

func TestParseOriginate(t *testing.T) {
	tests := []struct {
		name    string
		arg     string
		wantErr string // prefix of the FreeSWITCH error line
		check   func(t *testing.T, o esltest.Originate)
		vars    []esltest.Var
		dropped []string
	}{
		{
			name: "fixture command",
			arg:  "{origination_uuid=6a432b9b-f7f2-449e-9310-5d4ca95f370f,originate_timeout=20,origination_caller_id_number=15550001111}sofia/gateway/sipp/15551230001 &playback(tone_stream://%(1000,0,440))",
			vars: []esltest.Var{
				{"origination_uuid", "6a432b9b-f7f2-449e-9310-5d4ca95f370f"},
				{"originate_timeout", "20"},
				{"origination_caller_id_number", "15550001111"},
			},
			check: func(t *testing.T, o esltest.Originate) {
				want := esltest.Originate{
					UUID: "6a432b9b-f7f2-449e-9310-5d4ca95f370f", Timeout: 20 * time.Second,
					Endpoint: "sofia/gateway/sipp/15551230001", Destination: "15551230001",
					Target: "&playback(tone_stream://%(1000,0,440))", Application: "playback",
					// FreeSWITCH cuts at the first ')', as the fixture's
					// variable_current_application_data shows.
					AppArgs: "tone_stream://%(1000,0,440", CallerIDNumber: "15550001111",
					Dialplan: "XML", Context: "default",
				}
				same(t, o, want)
			},
		},
		{
			name: "quotes keep spaces",
			arg:  "{origination_caller_id_name='Acme Sales',x=1}sofia/gateway/gw/1555 &park()",
			vars: []esltest.Var{{"origination_caller_id_name", "Acme Sales"}, {"x", "1"}},
			check: func(t *testing.T, o esltest.Originate) {
				if o.CallerIDName != "Acme Sales" || o.Application != "park" || o.AppArgs != "" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			// The command line's quotes are consumed before the {} block is
			// split, so the comma splits the value (FreeSWITCH does this).
			name:    "quoted comma splits the value",
			arg:     "{origination_caller_id_name='Acme, Inc',x=1}sofia/gateway/gw/1555 &park()",
			vars:    []esltest.Var{{"origination_caller_id_name", "Acme"}, {"x", "1"}},
			dropped: []string{"Inc"},
		},
		{
			name: "escaped comma inside quotes",
			arg:  `{origination_caller_id_name='Acme\, Inc',x=1}sofia/gateway/gw/1555 &park()`,
			vars: []esltest.Var{{"origination_caller_id_name", "Acme, Inc"}, {"x", "1"}},
		},
		{
			name: "escaped quotes reach the variable parser",
			arg:  `{absolute_codec_string=\'PCMU,PCMA\',x=1}sofia/gateway/gw/1555 &park()`,
			vars: []esltest.Var{{"absolute_codec_string", "PCMU,PCMA"}, {"x", "1"}},
		},
		{
			name: "alternative separator",
			arg:  "{^^:absolute_codec_string=PCMU,PCMA:x=1}sofia/gateway/gw/1555 &park()",
			vars: []esltest.Var{{"absolute_codec_string", "PCMU,PCMA"}, {"x", "1"}},
		},
		{
			name: "value containing =",
			arg:  "{sip_h_X-Data=a=b}sofia/gateway/gw/1555 &park()",
			vars: []esltest.Var{{"sip_h_X-Data", "a=b"}},
		},
		{
			name: "several blocks and per-leg variables",
			arg:  "<e=0>{a=1}{b=2}[c=3,a=4]sofia/gateway/gw/1555 &park()",
			vars: []esltest.Var{{"e", "0"}, {"b", "2"}, {"c", "3"}, {"a", "4"}},
		},
		{
			name: "all arguments",
			arg:  "sofia/gateway/gw/1555 &park() XML sales 'Acme Sales' 15550001111 15",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Context != "sales" || o.CallerIDName != "Acme Sales" || o.CallerIDNumber != "15550001111" || o.Timeout != 15*time.Second {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "undef placeholders",
			arg:  "sofia/gateway/gw/1555 &park() undef undef undef 555",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Dialplan != "XML" || o.Context != "default" || o.CallerIDName != "" || o.CallerIDNumber != "555" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "extension target",
			arg:  "sofia/gateway/gw/1555 9999 XML custom",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Target != "9999" || o.Application != "" || o.Context != "custom" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "sip uri destination",
			arg:  "sofia/external/sip:15551230001@192.0.2.1:5060;transport=tcp &park()",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Destination != "15551230001" {
					t.Errorf("destination %q", o.Destination)
				}
			},
		},
		{
			name: "only the first leg is dialled",
			arg:  "{a=1}sofia/gateway/a/1001,[b=2]sofia/gateway/b/1002|sofia/gateway/c/1003 &park()",
			vars: []esltest.Var{{"a", "1"}},
			check: func(t *testing.T, o esltest.Originate) {
				if o.Endpoint != "sofia/gateway/a/1001" || o.Destination != "1001" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			// The pitfall from the field notes: the space cuts the
			// application argument and the rest becomes the dialplan.
			name: "unquoted space in application arguments",
			arg:  "sofia/gateway/gw/1555 &speak(flite|kal|Hello world)",
			check: func(t *testing.T, o esltest.Originate) {
				if o.AppArgs != "flite|kal|Hello" || o.Dialplan != "world)" {
					t.Errorf("got args %q dialplan %q", o.AppArgs, o.Dialplan)
				}
			},
		},
		{
			name: "quoted application arguments",
			arg:  "sofia/gateway/gw/1555 '&speak(flite|kal|Hello world)'",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Application != "speak" || o.AppArgs != "flite|kal|Hello world" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "timeout variable",
			arg:  "{originate_timeout=4}sofia/gateway/gw/1555 &park()",
			check: func(t *testing.T, o esltest.Originate) {
				if o.Timeout != 4*time.Second || o.UUID != "" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{name: "one argument", arg: "sofia/gateway/gw/1555", wantErr: "-USAGE: "},
		{name: "empty", arg: "", wantErr: "-USAGE: "},
		{name: "eight arguments", arg: "a/1 &park() 1 2 3 4 5 6", wantErr: "-USAGE: "},
		{name: "unclosed block", arg: "{a=1 sofia/gateway/gw/1555 &park()", wantErr: "-ERR DESTINATION_OUT_OF_ORDER"},
		{name: "no endpoint", arg: "{a=1}1555 &park()", wantErr: "-ERR CHAN_NOT_IMPLEMENTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := esltest.ParseOriginate(tt.arg)
			if tt.wantErr != "" {
				var e esltest.Error
				if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q...", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if o.Arg != tt.arg {
				t.Errorf("Arg = %q", o.Arg)
			}
			if tt.vars != nil && !slices.Equal(o.Vars, tt.vars) {
				t.Errorf("vars = %q, want %q", o.Vars, tt.vars)
			}
			if !slices.Equal(o.Dropped, tt.dropped) {
				t.Errorf("dropped = %q, want %q", o.Dropped, tt.dropped)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

// same compares the parsed fields that do not depend on the command text.
func same(t *testing.T, got, want esltest.Originate) {
	t.Helper()
	got.Arg, got.DialString, got.Vars, got.Dropped = "", "", nil, nil
	if got.Command != "" || got.JobUUID != "" {
		t.Errorf("Command/JobUUID set by the parser: %+v", got)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
