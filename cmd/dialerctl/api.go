package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// apiFlags are the options of dialerctl api.
type apiFlags struct {
	data, dataFile, contentType, field string
}

func (a *app) apiCommand() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "api METHOD PATH",
		Short: "Send any request to the API with the saved token",
		Long: `api sends METHOD PATH to the daemon with the saved token and prints the
answer: JSON indented, anything else as it came. It reaches every route
(GET /openapi.json lists them), for what the other commands do not cover:
providers, recordings, programs, groups, campaigns.

  dialerctl api POST /groups --data '{"name": "callers"}' --field group_id
  dialerctl api PUT /messages/recordings/1/media --data-file hello.wav --type audio/wav

--field NAME prints only that field of a JSON object answer (a string
without its quotes), so a shell can keep an id:
GROUP=$(dialerctl api POST /groups --data '{"name": "x"}' --field group_id).`,
		Args: args(2, "METHOD PATH"),
		RunE: func(c *cobra.Command, argv []string) error { return a.api(c.Context(), argv[0], argv[1], f) },
	}
	cmd.Flags().StringVarP(&f.data, "data", "d", "", "the request body (JSON unless --type says otherwise)")
	cmd.Flags().StringVar(&f.dataFile, "data-file", "", "read the body from FILE (- for standard input)")
	cmd.Flags().StringVar(&f.contentType, "type", "", "the body's Content-Type (default application/json)")
	cmd.Flags().StringVarP(&f.field, "field", "f", "", "print only this field of the JSON answer")
	return cmd
}

func (a *app) api(ctx context.Context, method, path string, f apiFlags) error {
	method = strings.ToUpper(method)
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return usagef("method %q: want GET, POST, PUT, PATCH, DELETE or HEAD", method)
	}
	// A path only: the token must never be sent to another host.
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return usagef("path %q: want a path on the server such as /campaigns", path)
	}
	if f.data != "" && f.dataFile != "" {
		return usagef("--data and --data-file: give one body")
	}
	c, err := a.client(path != "/authenticate")
	if err != nil {
		return err
	}
	// Any answer: the route decides (CSV exports, media files, JSON).
	r := request{method: method, path: path, accept: "*/*"}
	switch {
	case f.data != "":
		r.body, r.length = strings.NewReader(f.data), int64(len(f.data))
	case f.dataFile == "-":
		r.body = a.stdin
	case f.dataFile != "":
		file, err := os.Open(f.dataFile)
		if err != nil {
			return err
		}
		defer file.Close()
		st, err := file.Stat()
		if err != nil {
			return err
		}
		r.body, r.length = file, st.Size()
	}
	if r.body != nil {
		r.contentType = cmp.Or(f.contentType, "application/json")
	}
	res, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return &unreachableError{fmt.Errorf("%s %s: reading the answer: %w", method, path, err)}
	}
	isJSON := strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && json.Valid(body)
	if f.field != "" {
		var obj map[string]json.RawMessage
		if !isJSON || json.Unmarshal(body, &obj) != nil {
			return fmt.Errorf("%s %s: the answer is not a JSON object, so it has no field %q", method, path, f.field)
		}
		v, ok := obj[f.field]
		if !ok {
			return fmt.Errorf("%s %s: the answer has no field %q: %.200s", method, path, f.field, body)
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			fmt.Fprintln(a.stdout, s)
		} else {
			fmt.Fprintln(a.stdout, string(v))
		}
		return nil
	}
	if isJSON {
		var out bytes.Buffer
		if json.Indent(&out, body, "", "  ") == nil {
			out.WriteByte('\n')
			_, err = out.WriteTo(a.stdout)
			return err
		}
	}
	_, err = a.stdout.Write(body)
	return err
}
