package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// embeddedOnly are the nats settings that configure the embedded server and
// mean nothing with nats.url.
var embeddedOnly = []string{"sync_interval", "listen", "user", "password", "token"}

func (d *decoder) decodeNATS(b *hcl.Block, n *NATSConfig) {
	c := d.content(b.Body, natsSchema)
	u, rng := d.str(c.Attributes, "url", b.DefRange)
	if u != "" {
		if err := checkNATSURL(u); err != nil {
			d.add(errAt(rng, "Invalid NATS URL", "%s.", err))
		}
	}
	n.URL = Secret(u)
	n.Replicas = d.integer(c.Attributes, "replicas", DefaultNATSReplicas, 1, 5)
	n.SyncInterval = d.duration(c.Attributes, "sync_interval", 0, time.Millisecond, true)

	listen, lrng := d.str(c.Attributes, "listen", b.DefRange)
	if listen != "" {
		if err := checkListen(listen); err != nil {
			d.add(errAt(lrng, "Invalid listen address", "%s.", err))
		}
	}
	n.Listen = listen
	user, urng := d.str(c.Attributes, "user", b.DefRange)
	pw, prng := d.str(c.Attributes, "password", b.DefRange)
	tok, trng := d.str(c.Attributes, "token", b.DefRange)
	n.User, n.Password, n.Token = user, Secret(pw), Secret(tok)

	if u != "" {
		for _, name := range embeddedOnly {
			if a, ok := c.Attributes[name]; ok {
				d.add(errAt(a.NameRange, "Setting of the embedded server",
					"%q configures the embedded NATS server, which does not run when url is set; remove one of them.", name))
			}
		}
		return
	}
	switch {
	case tok != "" && (user != "" || pw != ""):
		d.add(errAt(trng, "Conflicting credentials", "Set either token, or user and password, not both."))
	case user != "" && pw == "" && !d.failedAt(prng):
		d.add(errAt(urng, "Missing password", "user needs a password (is its environment variable unset?)."))
	case pw != "" && user == "":
		d.add(errAt(prng, "Missing user", "password is used only together with user."))
	}
	switch {
	case listen != "" && pw == "" && tok == "" && !d.failedAt(prng) && !d.failedAt(trng) && user == "":
		d.add(errAt(lrng, "Listener without credentials",
			"listen opens a TCP port to the embedded NATS server, which holds approvals, pins and leases; "+
				"set user and password, or token (e.g. password = env(\"DRIFTLESS_NATS_PASSWORD\"); is the variable unset?)."))
	case listen == "" && (user != "" || pw != "" || tok != ""):
		d.add(errAt(b.DefRange, "Credentials without listen",
			"user, password and token protect the TCP listener; set listen = \"127.0.0.1:4222\" or remove them."))
	}
}
