package config

import (
	"os"
	"os/user"
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

// Seams for tests: who the process runs as, and the user database.
var (
	geteuid    = os.Geteuid
	lookupUser = user.Lookup
)

// runAs resolves terraform.run_as: an existing user other than root, and
// a daemon running as root (only root can start processes as another
// user). Problems are diagnostics at rng.
func (d *decoder) runAs(name string, rng hcl.Range) *UnixUser {
	u, err := lookupUser(name)
	if err != nil {
		d.add(errAt(rng, "Unknown run_as user", "%s.", err))
		return nil
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		d.add(errAt(rng, "Invalid run_as user", "User %q has no numeric uid and gid (%s:%s).", name, u.Uid, u.Gid))
		return nil
	}
	if uid == 0 || gid == 0 {
		d.add(errAt(rng, "Invalid run_as user", "run_as must name an unprivileged user; %q has uid %d, gid %d.", name, uid, gid))
		return nil
	}
	if euid := geteuid(); euid != 0 {
		d.add(errAt(rng, "run_as needs root", "Running Terraform as %q requires driftless to run as root (it runs as uid %d); remove run_as or start the daemon as root.", name, euid))
		return nil
	}
	return &UnixUser{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}
}
