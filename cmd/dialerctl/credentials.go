package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// credentials are what login keeps: the token is as good as the password
// until it expires, so the file is the user's alone (0600 in a 0700
// directory), and the token is only ever sent to the server it came from.
type credentials struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Token    string `json:"token"`
}

// credentialsPath is <user config dir>/dialerctl/credentials.json.
func (a *app) credentialsPath() (string, error) {
	dir, err := a.userConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory: %w", err)
	}
	return filepath.Join(dir, "dialerctl", "credentials.json"), nil
}

// loadCredentials reads the saved login; ok is false when there is none.
func (a *app) loadCredentials() (c credentials, ok bool, err error) {
	path, err := a.credentialsPath()
	if err != nil {
		return c, false, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, false, fmt.Errorf("%s: %w (log in again)", path, err)
	}
	return c, c.Token != "", nil
}

// saveCredentials writes c atomically, readable by its owner only; a
// directory or an old file that others could read is tightened first.
func (a *app) saveCredentials(c credentials) (string, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	// CreateTemp makes the file 0600 whatever the umask.
	tmp, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// removeCredentials forgets the saved login.
func (a *app) removeCredentials() (string, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return "", err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return path, nil
}
