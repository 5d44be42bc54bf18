package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/taskflow/taskflow/api"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/platform"
)

const opsUsage = `usage: taskflow ops COMMAND [--url URL] [--token TOKEN] [--json]
  apps                     app instances, their sidecars, placement and scheduler
  reminders                pending reminders and series ticks, late ones first
  operations               series operations (workflows), running and failed first
  outbox                   outbox backlog, consumer lag, dead letters waiting
  dead-letters [--all]     dead-lettered messages
  dead-letter ID           one dead letter with its message
  replay ID                put a dead letter's task event back on task-events
  retry OPERATION_ID       run a failed operation again
  terminate OPERATION_ID   stop a running operation
The API is TASKFLOW_URL (default http://localhost:8080); the token is TASKFLOW_TOKEN, or, with
the development secret, one minted for "operator" with the ADMIN_ROLE role.
`

// opsCommand is `taskflow ops ...`: the ops view's JSON under /api/v1/ops,
// as tables (or the JSON itself with --json).
func opsCommand(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		fmt.Fprint(stdout, opsUsage)
		if len(args) == 0 {
			return errors.New("ops: a command is required")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("ops "+cmd, flag.ContinueOnError)
	base := fs.String("url", cmp.Or(os.Getenv("TASKFLOW_URL"), "http://localhost:8080"), "the API's base URL")
	token := fs.String("token", os.Getenv("TASKFLOW_TOKEN"), "an operator's bearer token")
	raw := fs.Bool("json", false, "print the API's JSON")
	all := fs.Bool("all", false, "dead-letters: include replayed ones")
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if *token == "" {
		tok, err := devOperatorToken()
		if err != nil {
			return err
		}
		*token = tok
	}
	c := &opsClient{base: strings.TrimRight(*base, "/"), token: *token, http: &http.Client{Timeout: 30 * time.Second}}

	needID := func() error {
		if id == "" {
			return fmt.Errorf("ops %s: an id is required", cmd)
		}
		return nil
	}
	var method, path string
	var show func(w io.Writer, body []byte) error
	switch cmd {
	case "apps":
		method, path, show = "GET", "/api/v1/ops/apps", showApps
	case "reminders":
		method, path, show = "GET", "/api/v1/ops/reminders", showReminders
	case "operations":
		method, path, show = "GET", "/api/v1/ops/operations", showOperations
	case "outbox":
		method, path, show = "GET", "/api/v1/ops/outbox", showOutbox
	case "dead-letters":
		method, path, show = "GET", "/api/v1/ops/dead-letters", showDeadLetters
		if *all {
			path += "?status=all"
		}
	case "dead-letter":
		if err := needID(); err != nil {
			return err
		}
		method, path = "GET", "/api/v1/ops/dead-letters/"+id
	case "replay":
		if err := needID(); err != nil {
			return err
		}
		method, path = "POST", "/api/v1/ops/dead-letters/"+id+"/replay"
	case "retry", "terminate":
		if err := needID(); err != nil {
			return err
		}
		method, path = "POST", "/api/v1/ops/operations/"+id+"/"+cmd
	default:
		fmt.Fprint(stdout, opsUsage)
		return fmt.Errorf("ops: unknown command %q", cmd)
	}
	body, err := c.do(ctx, method, path)
	if err != nil {
		return err
	}
	if *raw || show == nil {
		var out bytes.Buffer
		if json.Indent(&out, body, "", "  ") != nil {
			out.Write(body)
		}
		out.WriteByte('\n')
		_, err := stdout.Write(out.Bytes())
		return err
	}
	return show(stdout, body)
}

// devOperatorToken mints an operator's token when this machine has the
// HS256 secret (development): the same secret `taskflow token` uses.
func devOperatorToken() (string, error) {
	env := platform.NewEnv()
	cfg := platform.DevToolAuthConfig(env)
	role := env.String("ADMIN_ROLE", api.DefaultAdminRole)
	if err := env.Err(); err != nil {
		return "", err
	}
	if len(cfg.Secret) == 0 {
		return "", errors.New("ops: set TASKFLOW_TOKEN to an operator's token (one with the " + role + " role)")
	}
	return auth.Mint(cfg.Secret, "operator", auth.MintOptions{Issuer: cfg.Issuer, Audience: cfg.Audience,
		TTL: 10 * time.Minute, Roles: []string{role}})
}

type opsClient struct {
	base, token string
	http        *http.Client
}

func (c *opsClient) do(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ops: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("ops: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Title, Detail string
		}
		if json.Unmarshal(body, &p) == nil && p.Title != "" {
			return nil, fmt.Errorf("ops: %s %s: %d %s: %s", method, path, resp.StatusCode, p.Title, p.Detail)
		}
		return nil, fmt.Errorf("ops: %s %s: %d", method, path, resp.StatusCode)
	}
	return body, nil
}

func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func showApps(w io.Writer, body []byte) error {
	var v struct {
		Now  time.Time `json:"now"`
		Apps []struct {
			AppID     string `json:"app_id"`
			Instances []struct {
				InstanceID  string    `json:"instance_id"`
				Status      string    `json:"status"`
				AppVersion  string    `json:"app_version"`
				HeartbeatAt time.Time `json:"heartbeat_at"`
				Sidecar     struct {
					RuntimeVersion string `json:"runtime_version"`
					Components     []struct{ Name string }
					Subscriptions  []struct{ Topic string }
					Actors         []struct {
						Type  string
						Count *int
					}
					Placement string
					Error     string
				} `json:"sidecar"`
			} `json:"instances"`
		} `json:"apps"`
		ControlPlane map[string]struct {
			Reachable bool
			Detail    string
		} `json:"control_plane"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	rows := [][]string{{"APP", "INSTANCE", "STATUS", "DAPR", "COMPONENTS", "TOPICS", "ACTORS", "HEARTBEAT"}}
	for _, a := range v.Apps {
		for _, in := range a.Instances {
			var comps, topics, acts []string
			for _, c := range in.Sidecar.Components {
				comps = append(comps, c.Name)
			}
			for _, s := range in.Sidecar.Subscriptions {
				topics = append(topics, s.Topic)
			}
			for _, ac := range in.Sidecar.Actors {
				switch {
				case strings.HasPrefix(ac.Type, "dapr.internal."):
					// Dapr's workflow engine: listed with workflows, not here.
				case ac.Count != nil:
					acts = append(acts, fmt.Sprintf("%s=%d", ac.Type, *ac.Count))
				default:
					acts = append(acts, ac.Type)
				}
			}
			status := in.Status
			if in.Sidecar.Error != "" {
				status += " (" + in.Sidecar.Error + ")"
			}
			rows = append(rows, []string{a.AppID, in.InstanceID, status, cmp.Or(in.Sidecar.RuntimeVersion, "-"),
				cmp.Or(strings.Join(comps, ","), "-"), cmp.Or(strings.Join(topics, ","), "-"),
				cmp.Or(strings.Join(acts, ","), "-"), ago(in.HeartbeatAt, v.Now)})
		}
	}
	if err := table(w, rows); err != nil {
		return err
	}
	for _, name := range []string{"placement", "scheduler"} {
		r := v.ControlPlane[name]
		state := "UNREACHABLE"
		if r.Reachable {
			state = "reachable"
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", name, state, r.Detail)
	}
	return nil
}

func showReminders(w io.Writer, body []byte) error {
	var v struct {
		Late      int `json:"late"`
		Reminders []struct {
			Kind         string    `json:"kind"`
			TaskID       string    `json:"task_id"`
			UserID       string    `json:"user_id"`
			ReminderType string    `json:"reminder_type"`
			DueAt        time.Time `json:"due_at"`
			LateSeconds  float64   `json:"late_seconds"`
			Scheduler    string    `json:"scheduler"`
		} `json:"reminders"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	rows := [][]string{{"KIND", "TASK", "USER", "DUE", "LATE", "SCHEDULER"}}
	for _, r := range v.Reminders {
		late := "-"
		if r.LateSeconds > 0 {
			late = (time.Duration(r.LateSeconds * float64(time.Second))).Round(time.Second).String()
		}
		kind := r.Kind
		if r.ReminderType != "" {
			kind += "/" + r.ReminderType
		}
		rows = append(rows, []string{kind, r.TaskID, r.UserID, r.DueAt.Format(time.RFC3339), late, r.Scheduler})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d late of %d listed\n", v.Late, len(v.Reminders))
	return err
}

func showOperations(w io.Writer, body []byte) error {
	var v struct {
		Operations []struct {
			ID        string    `json:"id"`
			UserID    string    `json:"user_id"`
			Kind      string    `json:"kind"`
			Status    string    `json:"status"`
			Total     *int      `json:"total"`
			Done      int       `json:"done"`
			Error     *string   `json:"error"`
			UpdatedAt time.Time `json:"updated_at"`
			Stuck     bool      `json:"stuck"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	rows := [][]string{{"ID", "KIND", "STATUS", "PROGRESS", "USER", "UPDATED", "ERROR"}}
	now := time.Now()
	for _, op := range v.Operations {
		total := "?"
		if op.Total != nil {
			total = fmt.Sprint(*op.Total)
		}
		status := op.Status
		if op.Stuck {
			status += " (stuck)"
		}
		errText := "-"
		if op.Error != nil {
			errText = *op.Error
		}
		rows = append(rows, []string{op.ID, op.Kind, status, fmt.Sprintf("%d/%s", op.Done, total), op.UserID, ago(op.UpdatedAt, now), errText})
	}
	return table(w, rows)
}

func showOutbox(w io.Writer, body []byte) error {
	var v struct {
		Pending        int64             `json:"pending"`
		Oldest         float64           `json:"oldest_age_seconds"`
		DeadLetters    int64             `json:"dead_letters_pending"`
		Consumers      []api.ConsumerLag `json:"consumers"`
		ConsumersError string            `json:"consumers_error"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	fmt.Fprintf(w, "outbox: %d pending, oldest %s\ndead letters waiting: %d\n", v.Pending,
		time.Duration(v.Oldest*float64(time.Second)).Round(time.Millisecond), v.DeadLetters)
	if v.ConsumersError != "" {
		_, err := fmt.Fprintln(w, "consumers:", v.ConsumersError)
		return err
	}
	rows := [][]string{{"GROUP", "STATE", "MEMBERS", "LAG"}}
	for _, c := range v.Consumers {
		rows = append(rows, []string{c.Group, c.State, fmt.Sprint(c.Members), fmt.Sprint(c.Lag)})
	}
	return table(w, rows)
}

func showDeadLetters(w io.Writer, body []byte) error {
	var v struct {
		DeadLetters []struct {
			ID         int64      `json:"id"`
			Subscriber string     `json:"subscriber"`
			Reason     string     `json:"reason"`
			EventID    string     `json:"event_id"`
			FailedAt   time.Time  `json:"failed_at"`
			ReplayedAt *time.Time `json:"replayed_at"`
		} `json:"dead_letters"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	rows := [][]string{{"ID", "SUBSCRIBER", "EVENT", "FAILED", "REPLAYED", "REASON"}}
	for _, d := range v.DeadLetters {
		replayed := "-"
		if d.ReplayedAt != nil {
			replayed = d.ReplayedAt.Format(time.RFC3339)
		}
		rows = append(rows, []string{fmt.Sprint(d.ID), d.Subscriber, cmp.Or(d.EventID, "-"), d.FailedAt.Format(time.RFC3339), replayed, d.Reason})
	}
	return table(w, rows)
}
