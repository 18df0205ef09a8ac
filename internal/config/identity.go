package config

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
)

// maxHostPart keeps "<hostname>-<6 hex>" within instance's 64 characters.
const maxHostPart = 64 - 7

// processNonce tells this process apart from any other with the same PID
// (a restart, another container); Holder uses it for a Config that was not
// built by Parse.
var processNonce = randomHex(4)

// defaultInstance is "<hostname>-<6 random hex>": two processes on one
// host get different names, hence different CloudEvents sources.
func defaultInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "driftless"
	}
	return hostPart(h) + "-" + randomHex(3)
}

// hostPart turns a host name into instance characters
// ([A-Za-z0-9._-], starting with a letter or digit), at most maxHostPart
// long.
func hostPart(h string) string {
	h = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, h)
	h = strings.TrimLeft(h, "._-")
	if len(h) > maxHostPart {
		h = h[:maxHostPart]
	}
	if h == "" {
		h = "driftless"
	}
	return h
}

// newHolder is "<instance>/<pid>-<8 random hex>".
func newHolder(instance string) string {
	return instance + "/" + strconv.Itoa(os.Getpid()) + "-" + randomHex(4)
}

// Holder identifies this process among all replicas, whatever their
// instance names: "<instance>/<pid>-<random>". Use it as the lease holder
// and the in-flight deploy marker's replica, never Instance, which is only
// a display name and may be shared by two processes. Each Parse (Load)
// draws a new one; it is stable for a given Config.
func (c *Config) Holder() string {
	if c.holder != "" {
		return c.holder
	}
	return c.Instance + "/" + strconv.Itoa(os.Getpid()) + "-" + processNonce
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}
