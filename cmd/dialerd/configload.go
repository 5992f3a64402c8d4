package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Every configuration error is one line that says where the value came
// from (config file and line, environment variable, flag), the full key
// and what is wrong with it: yaml.v3's own messages name no key and print
// the Go struct, so the file is walked as a node tree against keys()
// instead of decoded into Config, and each value goes through the same
// parser as the environment and the flags.

// applyYAML sets the keys data names. path is the file, for the messages.
func applyYAML(data []byte, path string, keys []configKey) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("config file %s: %s", path, oneLine(err.Error()))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s line %d: a second YAML document (---); dialerd reads one", path, extra.Line)
	}
	w := yamlWalk{path: path, leaves: map[string]configKey{}, sections: map[string]bool{}}
	for _, k := range keys {
		w.leaves[k.path] = k
		for i := range k.path {
			if k.path[i] == '.' {
				w.sections[k.path[:i]] = true
			}
		}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return w.mapping(root, "")
}

type yamlWalk struct {
	path     string
	leaves   map[string]configKey
	sections map[string]bool
}

func (w yamlWalk) at(n *yaml.Node) string {
	return fmt.Sprintf("config file %s line %d", w.path, n.Line)
}

// mapping applies a mapping node whose keys are under prefix ("" or "engine.").
func (w yamlWalk) mapping(n *yaml.Node, prefix string) error {
	n = resolveAlias(n)
	if isNull(n) {
		return nil // "engine:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if prefix != "" {
			what = "config key " + strings.TrimSuffix(prefix, ".") + ":"
		}
		return fmt.Errorf("%s: %s must be a mapping of keys (key: value lines), not %s", w.at(n), what, describeNode(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], resolveAlias(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: a key must be a plain name, not %s", w.at(kn), describeNode(kn))
		}
		full := prefix + kn.Value
		if line, dup := seen[full]; dup {
			return fmt.Errorf("%s: config key %s: given twice (lines %d and %d)", w.at(kn), full, line, kn.Line)
		}
		seen[full] = kn.Line
		if k, ok := w.leaves[full]; ok {
			if vn.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s: config key %s: must be a single value, not %s", w.at(vn), full, describeNode(vn))
			}
			v := vn.Value
			if isNull(vn) {
				v = ""
			}
			if err := k.set(v); err != nil {
				return fmt.Errorf("%s: %w", w.at(vn), err)
			}
			continue
		}
		if w.sections[full] {
			if err := w.mapping(vn, full+"."); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("%s: config key %s: unknown%s", w.at(kn), full, w.suggest(full))
	}
	return nil
}

// suggest names the closest key to a misspelt one, when one is close.
func (w yamlWalk) suggest(full string) string {
	names := make([]string, 0, len(w.leaves)+len(w.sections))
	for k := range w.leaves {
		names = append(names, k)
	}
	for k := range w.sections {
		names = append(names, k)
	}
	if s := closest(full, names); s != "" {
		return " (did you mean " + s + "?)"
	}
	return " (dialerd help lists every key)"
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describeNode says what a node is, briefly, for a message.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("the value %q", v)
	}
	return "a YAML node of another kind"
}

// oneLine folds a multi-line message (yaml.v3 lists errors on lines).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkEnvironment refuses DIALERD_* variables that are no key: a
// misspelt one would otherwise leave the operator believing a setting is
// in effect. environ is os.Environ's form, KEY=value.
func checkEnvironment(environ []string, keys []configKey) error {
	known := map[string]bool{"DIALERD_CONFIG": true}
	names := []string{"DIALERD_CONFIG"}
	for _, k := range keys {
		known[k.env()] = true
		names = append(names, k.env())
	}
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "DIALERD_") || known[name] {
			continue
		}
		hint := " (dialerd help lists every variable)"
		if s := closest(name, names); s != "" {
			hint = " (did you mean " + s + "?)"
		}
		errs = append(errs, fmt.Errorf("environment %s: no such configuration variable%s", name, hint))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// checkFlags refuses an unknown or valueless flag with the key it names, as
// the flag package's own messages ("flag provided but not defined: -x") do not.
func checkFlags(args []string, keys []configKey) error {
	known := map[string]bool{"config": true}
	names := []string{"--config"}
	for _, k := range keys {
		known[k.path] = true
		names = append(names, "--"+k.path)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return nil // the flag package stops here too
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			hint := " (dialerd help lists every key)"
			if s := closest("--"+name, names); s != "" {
				hint = " (did you mean " + s + "?)"
			}
			return fmt.Errorf("flag --%s: no such config key%s", name, hint)
		}
		if !hasValue {
			if i+1 == len(args) {
				return fmt.Errorf("flag --%s: needs a value (--%s VALUE or --%s=VALUE)", name, name, name)
			}
			i++ // the value
		}
	}
	return nil
}

// closest is the candidate nearest to s in edits, when near enough to be
// a misspelling of it: at most 3 edits, and less than a third of s.
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD > 3 || bestD*3 > len(s) {
		return ""
	}
	return best
}

// editDistance is Levenshtein's distance between a and b, in bytes (keys
// and variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
