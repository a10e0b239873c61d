package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdPull(_ context.Context, e *env, _ []string) int {
	return fail(e, "pull: not built yet")
}
