package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/driftless/driftless/internal/client"
)

// Exit codes, decided here and nowhere else.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // driftless plan: there are changes
	exitUsage   = 64
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `driftless — GitOps for Terraform, ECS and Lambda, outside Kubernetes

Usage:
  driftless run -c driftless.hcl          run the daemon
  driftless validate [DIR]                check the manifests in DIR (default .)
  driftless plan -c FILE [REPO/APP]       one-shot diff of desired vs live (exit 0 none, 2 changes, 1 error)

Talking to a running daemon (--server or DRIFTLESS_SERVER, token from DRIFTLESS_API_TOKEN):
  driftless apps                          apps with kind, revisions and status
  driftless history REPO/APP              deploys and rollbacks of an app
  driftless reconcile REPO/APP            reconcile now
  driftless rollback REPO/APP --to REV    pin an app to an earlier commit (or --previous)
  driftless unpin REPO/APP                follow the branch head again
  driftless approve REPO/APP [--plan ID]  show the plan awaiting approval and apply exactly it
  driftless suspend|resume REPO/APP       stop / restart reconciling an app
  driftless events [--follow]             print events as they come
  driftless drift [REPO[/APP]]            open drift; --pr: propose REPO/APP's drift as a pull request

Every command takes -o json. 'driftless COMMAND -h' shows its flags.
`

// usageError is a mistake on the command line; it carries a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// exitCoder lets a command choose a code other than 0/1 (plan's 2).
type exitCoder interface{ ExitCode() int }

type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }
func (e exitCode) ExitCode() int { return int(e) }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, args, stdout, stderr)
	var ue *usageError
	var ec exitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "driftless: %s\nRun 'driftless help' for usage.\n", client.CleanText(ue.msg))
		return exitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	default:
		// Errors may carry server-provided text: no control characters
		// reach the terminal.
		fmt.Fprintf(stderr, "driftless: %s\n", client.CleanText(err.Error()))
		return exitError
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "driftless", version)
		return nil
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "plan":
		return cmdPlan(ctx, rest, stdout, stderr)
	case "apps", "history", "reconcile", "rollback", "unpin", "approve", "suspend", "resume", "events", "drift":
		return cmdRemote(ctx, cmd, rest, stdout, stderr)
	default:
		return usagef("unknown command %q", cmd)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("driftless "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args allowing flags after positional arguments
// (driftless history platform/web -o json).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func checkFormat(o string) error {
	if o != "table" && o != "json" && o != "text" {
		return usagef("-o must be table or json, not %q", o)
	}
	return nil
}
