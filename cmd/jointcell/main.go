// Command jointcell is one binary for a joint cyber cell: a STIX 2.1 store
// served over TAXII 2.1, access control, detection and federation. This file
// only dispatches to the subcommands, one file each.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// env is what a subcommand may touch of the process, so that tests can run
// the real commands in-process with their own streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command runs one subcommand and returns the process exit status.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run a cell: the TAXII 2.1 server", cmdServe},
		"validate":   {"validate STIX 2.1 files", cmdValidate},
		"pattern":    {"validate and match STIX patterns", cmdPattern},
		"org":        {"manage organisations", cmdOrg},
		"user":       {"manage users and their tokens", cmdUser},
		"collection": {"manage collections", cmdCollection},
		"group":      {"manage sharing groups", cmdGroup},
		"push":       {"push a bundle to a TAXII collection", cmdPush},
		"pull":       {"pull a TAXII collection into a bundle", cmdPull},
		"detect":     {"match telemetry against indicators", cmdDetect},
		"audit":      {"verify and show the audit log", cmdAudit},
		"peer":       {"manage federation peers", cmdPeer},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "jointcell: unknown command %q (try jointcell help)\n", args[0])
		return 2
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: jointcell COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'jointcell COMMAND -h' for a command's flags.")
}

// fail prints a one-line error for the CLI and returns exit status 1.
func fail(e *env, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "jointcell: "+format+"\n", a...)
	return 1
}

// warn prints a one-line warning on stderr; the command goes on.
func warn(e *env, format string, a ...any) {
	fmt.Fprintf(e.stderr, "jointcell: warning: "+format+"\n", a...)
}
