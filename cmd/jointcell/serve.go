package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdServe(_ context.Context, e *env, _ []string) int {
	return fail(e, "serve: not built yet")
}
