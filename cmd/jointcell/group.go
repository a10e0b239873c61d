package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdGroup(_ context.Context, e *env, _ []string) int {
	return fail(e, "group: not built yet")
}
