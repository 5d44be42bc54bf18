package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/taskflow/taskflow/mcptools"
)

// mcpCommand serves TaskFlow's MCP tools over stdio, acting for the user
// whose token TASKFLOW_TOKEN holds: what an AI agent's host (Claude
// Desktop, an IDE) starts as a local MCP server.
func mcpCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	base := fs.String("url", cmp.Or(os.Getenv("TASKFLOW_URL"), "http://localhost:8080"), "the API's base URL")
	audit := fs.String("audit-url", cmp.Or(os.Getenv("TASKFLOW_AUDIT_URL"), "http://localhost:8082"),
		"the auditor's base URL (task history); on Kubernetes the API's public URL")
	zone := fs.String("timezone", cmp.Or(os.Getenv("TASKFLOW_TIMEZONE"), os.Getenv("TZ")), "the user's IANA time zone (for today and dates in text); empty is UTC")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := strings.TrimSpace(os.Getenv("TASKFLOW_TOKEN"))
	if token == "" {
		return errors.New("mcp: set TASKFLOW_TOKEN to the user's bearer token (locally: TASKFLOW_TOKEN=$(taskflow token --user alice))")
	}
	s := mcptools.NewServer(&mcptools.Backend{APIURL: *base, AuditURL: *audit},
		mcptools.FixedCredentials(mcptools.Credentials{Authorization: "Bearer " + token, TimeZone: *zone}))
	return s.Run(ctx, &mcp.StdioTransport{})
}
