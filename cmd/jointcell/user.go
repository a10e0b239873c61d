package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdUser(_ context.Context, e *env, _ []string) int {
	return fail(e, "user: not built yet")
}
