package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdPattern(_ context.Context, e *env, _ []string) int {
	return fail(e, "pattern: not built yet")
}
