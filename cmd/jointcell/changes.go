package main

import (
	"context"
	"os/user"

	"github.com/jointcell/jointcell/internal/audit"
	jcell "github.com/jointcell/jointcell/internal/cell"
)

// audited records a management change made with the CLI in the cell's
// audit log, whatever its outcome, as the admin API records its own
// (action admin, the same targets and details), and returns err. The
// actor is "cli:" and the operating-system user who ran the command.
// Beside a running server the entry waits in the store until the server
// appends it (jcell.Cell.RecordAudit). A change that succeeded stands
// even when it cannot be audited: the command says so on stderr.
func audited(ctx context.Context, e *env, c *jcell.Cell, target, detail string, err error) error {
	entry := audit.Entry{Actor: cliActor(), Action: audit.ActionAdmin, Target: target, Outcome: audit.OutcomeOK, Detail: detail}
	if err != nil {
		entry.Outcome, entry.Detail = audit.OutcomeError, detail+": "+err.Error()
	}
	if aerr := c.RecordAudit(context.WithoutCancel(ctx), entry); aerr != nil {
		warn(e, "the change to %s was not audited: %v", target, aerr)
	}
	return err
}

// cliActor names who ran the CLI in audit entries.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}
