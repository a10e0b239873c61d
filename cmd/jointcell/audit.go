package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdAudit(_ context.Context, e *env, _ []string) int {
	return fail(e, "audit: not built yet")
}
