package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// importResult is the answer of POST /groups/{id}/csv.
type importResult struct {
	Imported       int           `json:"imported"`
	Existing       int           `json:"existing"`
	Failed         int           `json:"failed"`
	Errors         []importError `json:"errors"`
	ErrorsOmitted  int           `json:"errors_omitted"`
	IgnoredColumns []string      `json:"ignored_columns"`
}

type importError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (a *app) contactsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "contacts", Short: "Import contacts"}
	var group string
	var atomic bool
	imp := &cobra.Command{
		Use:   "import FILE --group GROUP",
		Short: "Import a CSV file of contacts into a group",
		Long: `import uploads FILE (a CSV whose first row names the columns; phone is
required, first_name, last_name, email, timezone and the others are
optional; "-" reads standard input) to POST /groups/{id}/csv, showing the
upload's progress on a terminal, then the counts and every row the daemon
rejected (line 1 is the header).

GROUP is a group id, or a name: a group of that name is used, or created.
Rows the daemon rejects are listed and the command exits 5; the other rows
are imported. With --atomic any bad row imports nothing (exit 2).`,
		Args: args(1, "FILE"),
		RunE: func(c *cobra.Command, argv []string) error {
			if group == "" {
				return usagef("--group is required: a group id or name")
			}
			return a.importContacts(c.Context(), argv[0], group, atomic)
		},
	}
	imp.Flags().StringVarP(&group, "group", "g", "", "group id or name (created when no group has that name)")
	imp.Flags().BoolVar(&atomic, "atomic", false, "import every row or none")
	cmd.AddCommand(imp)
	return cmd
}

// resolveGroup finds the group named by an id or a name, creating a named one.
func (a *app) resolveGroup(ctx context.Context, c *client, group string) (int64, error) {
	if id, err := strconv.ParseInt(group, 10, 64); err == nil && id > 0 {
		return id, c.do(ctx, http.MethodGet, fmt.Sprintf("/groups/%d", id), nil, nil)
	}
	var found []struct {
		ID   int64  `json:"group_id"`
		Name string `json:"name"`
	}
	if err := c.do(ctx, http.MethodGet, "/groups?name="+url.QueryEscape(group), nil, &found); err != nil {
		return 0, err
	}
	for _, g := range found {
		if g.Name == group {
			return g.ID, nil
		}
	}
	var created struct {
		ID int64 `json:"group_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/groups", map[string]string{"name": group}, &created); err != nil {
		return 0, err
	}
	fmt.Fprintf(a.stderr, "created group %q (id %d)\n", group, created.ID)
	return created.ID, nil
}

func (a *app) importContacts(ctx context.Context, file, group string, atomic bool) error {
	c, err := a.client(true)
	if err != nil {
		return err
	}
	var (
		body io.Reader = a.stdin
		size int64
		name = "standard input"
	)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err // a local error: exit 1
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		body, size, name = f, st.Size(), file
	}
	groupID, err := a.resolveGroup(ctx, c, group)
	if err != nil {
		return err
	}
	w := a.stderr
	if !a.stderrTerminal || a.jsonOut {
		w = io.Discard
	}
	barMax := size
	if file == "-" {
		barMax = -1 // unknown: a spinner
	}
	bar := progressbar.NewOptions64(barMax,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetDescription("uploading "+printable(name)),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)
	reader := progressbar.NewReader(body, bar)
	path := fmt.Sprintf("/groups/%d/csv", groupID)
	if atomic {
		path += "?atomic=true"
	}
	res, err := c.send(ctx, request{method: http.MethodPost, path: path, body: &reader, contentType: "text/csv", length: size})
	_ = bar.Finish()
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return &unreachableError{fmt.Errorf("POST %s: reading the answer: %w", path, err)}
	}
	var r importResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("POST %s: unexpected answer %.200q: %w", path, raw, err)
	}
	if a.jsonOut {
		err = writeJSON(a.stdout, json.RawMessage(raw))
	} else {
		a.printImport(groupID, r)
	}
	if err != nil || r.Failed == 0 {
		return err
	}
	return &partialError{} // the rejected rows are printed already
}

func (a *app) printImport(groupID int64, r importResult) {
	fmt.Fprintf(a.stdout, "group %d: %d imported, %d existing, %d failed\n", groupID, r.Imported, r.Existing, r.Failed)
	if len(r.IgnoredColumns) > 0 {
		fmt.Fprintf(a.stdout, "ignored columns: %s\n", printable(fmt.Sprint(r.IgnoredColumns)))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(a.stdout, "line %d: %s: %s\n", e.Line, printable(e.Field), printable(e.Reason))
	}
	if r.ErrorsOmitted > 0 {
		fmt.Fprintf(a.stdout, "… and %d more rejected rows not listed\n", r.ErrorsOmitted)
	}
}
