package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	jcell "github.com/jointcell/jointcell/internal/cell"
)

// cmdCollection manages collections: jointcell collection create|list.
func cmdCollection(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "collection", args, map[string]func(context.Context, *env, []string) int{
		"create": collectionCreate,
		"list":   collectionList,
	})
}

// collectionCreate creates a collection and prints its id alone on stdout.
func collectionCreate(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "collection create", "")
	title := fs.String("title", "", "the collection's title (required)")
	alias := fs.String("alias", "", "optional alias, usable in URLs instead of the id")
	desc := fs.String("description", "", "optional description")
	read := fs.String("read", "", "organisations or sharing groups that may read, comma-separated")
	write := fs.String("write", "", "organisations or sharing groups that may write, comma-separated")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "collection create: %v", err)
	}
	defer c.Close()
	col, err := c.Manager().CreateCollection(ctx, jcell.CollectionSpec{
		Title: *title, Alias: *alias, Description: *desc,
		Read: splitList(*read), Write: splitList(*write),
	})
	target := "collection:" + col.ID
	if err != nil {
		target = "collection"
	}
	if err := audited(ctx, e, c, target, "create collection "+strconv.Quote(*title), err); err != nil {
		return fail(e, "collection create: %v", err)
	}
	fmt.Fprintln(e.stdout, col.ID)
	return 0
}

func collectionList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "collection list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "collection list: %v", err)
	}
	defer c.Close()
	cols, err := c.Manager().Collections(ctx)
	if err != nil {
		return fail(e, "collection list: %v", err)
	}
	tw := table(e.stdout, "ID", "ALIAS", "TITLE", "READ", "WRITE")
	for _, col := range cols {
		row(tw, col.ID, dash(col.Alias), col.Title, dash(strings.Join(col.ReadNames, ",")), dash(strings.Join(col.WriteNames, ",")))
	}
	return flushTable(e, tw)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
