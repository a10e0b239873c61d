package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	jcell "github.com/jointcell/jointcell/internal/cell"
)

// cmdGroup manages sharing groups: jointcell group create|add|remove|list.
func cmdGroup(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "group", args, map[string]func(context.Context, *env, []string) int{
		"create": groupCreate,
		"add":    groupAdd,
		"remove": groupRemove,
		"list":   groupList,
	})
}

// groupCreate creates a group and prints its marking-definition id alone
// on stdout: producers put it in object_marking_refs.
func groupCreate(ctx context.Context, e *env, args []string) int {
	return groupChange(ctx, e, "group create", "create group of ", args, func(m *jcell.Manager, name string, orgs []string) (jcell.GroupInfo, error) {
		return m.CreateGroup(ctx, name, orgs)
	}, true)
}

func groupAdd(ctx context.Context, e *env, args []string) int {
	return groupChange(ctx, e, "group add", "add members ", args, func(m *jcell.Manager, name string, orgs []string) (jcell.GroupInfo, error) {
		return m.AddGroupMembers(ctx, name, orgs)
	}, false)
}

func groupRemove(ctx context.Context, e *env, args []string) int {
	return groupChange(ctx, e, "group remove", "remove members ", args, func(m *jcell.Manager, name string, orgs []string) (jcell.GroupInfo, error) {
		return m.RemoveGroupMembers(ctx, name, orgs)
	}, false)
}

// groupChange runs one change of a group's members, audited as the admin
// API audits it (detail: what is done, before the organisations).
func groupChange(ctx context.Context, e *env, name, detail string, args []string, op func(*jcell.Manager, string, []string) (jcell.GroupInfo, error), printID bool) int {
	fs, data := manageFlags(e, name, "NAME")
	orgs := fs.String("orgs", "", "organisations, comma-separated (required)")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	if len(splitList(*orgs)) == 0 {
		return fail(e, "%s: --orgs ORG,... is required", name)
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "%s: %v", name, err)
	}
	defer c.Close()
	g, err := op(c.Manager(), pos[0], splitList(*orgs))
	if err := audited(ctx, e, c, "group:"+pos[0], detail+strings.Join(splitList(*orgs), ","), err); err != nil {
		return fail(e, "%s: %v", name, err)
	}
	if printID {
		fmt.Fprintln(e.stdout, g.MarkingID)
	} else {
		// The members after the change, so that the operator sees what
		// the group now shares with.
		fmt.Fprintf(e.stdout, "%s: %s\n", g.Name, dash(strings.Join(slices.Sorted(slices.Values(g.MemberNames)), ",")))
	}
	return 0
}

func groupList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "group list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "group list: %v", err)
	}
	defer c.Close()
	groups, err := c.Manager().Groups(ctx)
	if err != nil {
		return fail(e, "group list: %v", err)
	}
	tw := table(e.stdout, "NAME", "MARKING", "MEMBERS")
	for _, g := range groups {
		row(tw, g.Name, g.MarkingID, dash(strings.Join(g.MemberNames, ",")))
	}
	return flushTable(e, tw)
}
