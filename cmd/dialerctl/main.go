package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, userConfigDir: os.UserConfigDir,
		stdinTerminal: isTerminal(os.Stdin), stderrTerminal: isTerminal(os.Stderr),
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// version is set at build time (-ldflags "-X main.version=…"), as dialerd's.
var version = "dev"

// defaultServer is where `make run` listens.
const defaultServer = "http://127.0.0.1:8000"

// app is one invocation: its streams, environment and flags. Everything
// outside the process is reached through these fields, so tests run it
// in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	userConfigDir  func() (string, error)
	// stdinTerminal: login prompts without echo; stderrTerminal: progress
	// bars are drawn (a log file gets a line at the end instead).
	stdinTerminal, stderrTerminal bool
	// http is the client; nil means one with sane timeouts.
	http *http.Client

	// global flags
	server  string
	jsonOut bool
}

// run executes args and returns the exit code; errors are printed here.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		var partial *partialError
		if !errors.As(err, &partial) || partial.msg != "" {
			fmt.Fprintln(a.stderr, "dialerctl:", err)
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && ae.Path != "/authenticate" {
			fmt.Fprintln(a.stderr, "dialerctl: the token was refused (expired, or its user changed): log in again with dialerctl login")
		}
	}
	return exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dialerctl",
		Short: "Operate a dialerd daemon: campaigns, contacts, reports, trunks",
		Long: `dialerctl talks to dialerd's API. Log in once (dialerctl login); the token
is kept in your config directory, readable by you only, and sent only to
the server it came from.

The server is --server, else $DIALERCTL_SERVER, else the one you logged in
to, else ` + defaultServer + `. $DIALERCTL_TOKEN, when set, is used instead
of the saved token.

--json prints what the API answered (or, for watch, the final campaign) as
JSON on stdout, for scripts; messages and progress go to stderr.

Exit codes: 0 done; 1 usage or local error; 2 the API refused the request;
3 not logged in, token refused (401) or permission missing (403); 4 the
daemon could not be reached; 5 done but not everything succeeded (rejected
import rows, a watched campaign stopped, a trunk or node down); 130
interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&a.server, "server", "", "dialerd's URL (default $DIALERCTL_SERVER, the logged-in server, or "+defaultServer+")")
	root.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON for scripts")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(a.loginCommand(), a.logoutCommand(), a.campaignsCommand(), a.contactsCommand(),
		a.reportCommand(), a.providersCommand(), a.apiCommand())
	// cobra's own unknown-command errors are plain errors, which exitCode
	// already maps to 1 (usage).
	return root
}

// args checks the number of positional arguments, as a usage error.
func args(n int, names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (see --help)", c.CommandPath(), strings.Join(names, " "))
		}
		return nil
	}
}

// client is the API client for this invocation: the resolved server and
// its token. needToken=false serves login and unauthenticated reads.
func (a *app) client(needToken bool) (*client, error) {
	creds, saved, err := a.loadCredentials()
	if err != nil {
		return nil, err
	}
	server := a.server
	if server == "" {
		server = a.getenv("DIALERCTL_SERVER")
	}
	if server == "" && saved {
		server = creds.Server
	}
	if server == "" {
		server = defaultServer
	}
	server, err = normaliseServer(server)
	if err != nil {
		return nil, err
	}
	c := &client{base: server, http: a.httpClient()}
	if tok := a.getenv("DIALERCTL_TOKEN"); tok != "" {
		c.token = tok
	} else if saved && creds.Server == server {
		c.token = creds.Token
	}
	if needToken && c.token == "" {
		return nil, &authError{"not logged in to " + server + ": run dialerctl login --server " + server}
	}
	if needToken && !secureTransport(server) {
		fmt.Fprintf(a.stderr, "dialerctl: warning: %s is plain http on another host: the token crosses the network unencrypted\n", server)
	}
	return c, nil
}

func (a *app) httpClient() *http.Client {
	if a.http != nil {
		return a.http
	}
	// No overall timeout: reports stream and uploads may be long. A daemon
	// that does not start answering within a minute is given up on.
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ResponseHeaderTimeout: time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
		IdleConnTimeout:       time.Minute,
	}}
}

// secureTransport reports whether a token sent to server stays off the
// network or is encrypted: https, or http to this host.
func secureTransport(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
