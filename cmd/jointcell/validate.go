package main

import "context"

// PLACEHOLDER: replaced by the real command.
func cmdValidate(_ context.Context, e *env, _ []string) int {
	return fail(e, "validate: not built yet")
}
