package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdDetect(_ context.Context, e *env, _ []string) int {
	return fail(e, "detect: not built yet")
}
