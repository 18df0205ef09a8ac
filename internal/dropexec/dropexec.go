package dropexec

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Variables that make the driftless executable exec Terraform as another
// user (see Main).
const (
	EnvTerraform = "DRIFTLESS_EXEC_TERRAFORM" // absolute path of the real terraform
	EnvAs        = "DRIFTLESS_EXEC_AS"        // "uid:gid"
)

// Env returns the variables to add to a Terraform environment so that the
// driftless executable, started with it, runs terraform as uid:gid.
func Env(terraform string, uid, gid int) map[string]string {
	return map[string]string{EnvTerraform: terraform, EnvAs: strconv.Itoa(uid) + ":" + strconv.Itoa(gid)}
}

// Requested reports whether this process was started to exec Terraform as
// another user.
func Requested() bool { return os.Getenv(EnvTerraform) != "" || os.Getenv(EnvAs) != "" }

// Main does nothing unless the process was started with EnvTerraform or
// EnvAs. Then it drops to the requested user and execs Terraform with
// os.Args[1:]; it returns only to exit with status 126 when that fails (the
// message is on stderr). Call it first thing in main.
func Main() {
	if !Requested() {
		return
	}
	err := execAs(os.Getenv(EnvTerraform), os.Getenv(EnvAs), os.Args[1:])
	fmt.Fprintf(os.Stderr, "driftless: running terraform as another user: %v\n", err)
	os.Exit(126)
}

// ParseAs parses "uid:gid".
func ParseAs(s string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%s=%q: want uid:gid", EnvAs, s)
	}
	if uid, err = strconv.Atoi(u); err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("%s=%q: bad uid", EnvAs, s)
	}
	if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
		return 0, 0, fmt.Errorf("%s=%q: bad gid", EnvAs, s)
	}
	return uid, gid, nil
}

// cleanEnv returns env without the two dropexec variables.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvTerraform+"=") || strings.HasPrefix(kv, EnvAs+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
