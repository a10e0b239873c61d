package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdCollection(_ context.Context, e *env, _ []string) int {
	return fail(e, "collection: not built yet")
}
