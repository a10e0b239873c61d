package main

import (
	"context"
	"fmt"
	"time"

	jcell "github.com/jointcell/jointcell/internal/cell"
)

// cmdUser manages users: jointcell user create|list|token --data DIR.
func cmdUser(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "user", args, map[string]func(context.Context, *env, []string) int{
		"create": userCreate,
		"list":   userList,
		"token":  userToken,
	})
}

// userCreate creates a user and prints its token alone on stdout, so that
// scripts can capture it; it is shown this once.
func userCreate(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "user create", "NAME")
	org := fs.String("org", "", "the user's organisation (required)")
	role := fs.String("role", jcell.RoleAnalyst, "admin, analyst (reads and writes) or reader")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	if *org == "" {
		return fail(e, "user create: --org ORG is required")
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "user create: %v", err)
	}
	defer c.Close()
	_, token, err := c.Manager().CreateUser(ctx, pos[0], *org, *role)
	if err := audited(ctx, e, c, "user:"+pos[0], "create user of "+*org+" with role "+*role, err); err != nil {
		return fail(e, "user create: %v", err)
	}
	fmt.Fprintln(e.stdout, token)
	return 0
}

func userList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "user list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "user list: %v", err)
	}
	defer c.Close()
	users, err := c.Manager().Users(ctx)
	if err != nil {
		return fail(e, "user list: %v", err)
	}
	tw := table(e.stdout, "NAME", "ORG", "ROLE", "CREATED")
	for _, u := range users {
		row(tw, u.Name, u.OrgName, u.Role, u.Created.UTC().Format(time.RFC3339))
	}
	return flushTable(e, tw)
}

// userToken rotates a user's token and prints the new one; the old one
// stops working within seconds on a running server.
func userToken(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "user token", "NAME")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "user token: %v", err)
	}
	defer c.Close()
	token, err := c.Manager().RotateToken(ctx, pos[0])
	if err := audited(ctx, e, c, "user:"+pos[0], "rotate token", err); err != nil {
		return fail(e, "user token: %v", err)
	}
	fmt.Fprintln(e.stdout, token)
	return 0
}
