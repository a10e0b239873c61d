package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdPush(_ context.Context, e *env, _ []string) int {
	return fail(e, "push: not built yet")
}
