package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdOrg(_ context.Context, e *env, _ []string) int {
	return fail(e, "org: not built yet")
}
