package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) loginCommand() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and keep the token in your config directory",
		Long: `login asks dialerd for a token (POST /authenticate) and keeps it, with the
server's URL, in <config dir>/dialerctl/credentials.json (mode 0600, its
directory 0700; the config dir is $XDG_CONFIG_HOME or ~/.config).

The password is prompted for without echo on a terminal, else read from the
first line of standard input:

  dialerctl login --server http://127.0.0.1:8000 --user admin < var/admin-password`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.login(cmd.Context(), user)
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "admin", "username")
	return cmd
}

func (a *app) login(ctx context.Context, user string) error {
	c, err := a.client(false)
	if err != nil {
		return err
	}
	c.token = "" // a login sends no old token
	password, err := a.readPassword(user)
	if err != nil {
		return err
	}
	var ans struct {
		Token string `json:"token"`
	}
	err = c.do(ctx, http.MethodPost, "/authenticate", map[string]string{"username": user, "password": password}, &ans)
	if err != nil {
		if ae := (*apiError)(nil); errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return &authError{"login as " + user + " on " + c.base + ": wrong username or password"}
		}
		return err
	}
	if ans.Token == "" {
		return fmt.Errorf("POST /authenticate: no token in the answer")
	}
	path, err := a.saveCredentials(credentials{Server: c.base, Username: user, Token: ans.Token})
	if err != nil {
		return fmt.Errorf("saving the token: %w", err)
	}
	if a.jsonOut {
		return writeJSON(a.stdout, map[string]string{"server": c.base, "username": user, "credentials": path})
	}
	fmt.Fprintf(a.stdout, "logged in to %s as %s (token kept in %s)\n", c.base, user, path)
	return nil
}

// readPassword prompts on a terminal, else reads standard input's first line.
func (a *app) readPassword(user string) (string, error) {
	if f, ok := a.stdin.(*os.File); ok && a.stdinTerminal {
		fmt.Fprintf(a.stderr, "password for %s: ", user)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil {
			return "", usagef("no password on standard input (%v)", err)
		}
		return "", usagef("the password on standard input is empty")
	}
	return line, nil
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the saved token",
		Args:  args(0),
		RunE: func(*cobra.Command, []string) error {
			path, err := a.removeCredentials()
			if err != nil {
				return err
			}
			if !a.jsonOut {
				fmt.Fprintln(a.stdout, "removed", path)
			}
			return nil
		},
	}
}
