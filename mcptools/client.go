package mcptools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponse bounds what one REST answer may hold.
const maxResponse = 8 << 20

// Backend is how the tools reach TaskFlow: its REST API and its audit
// query, as one user. Every call carries that user's bearer token, so the
// API's own authentication, validation, limits and per-user scoping apply
// to an agent exactly as to the web app.
type Backend struct {
	// APIURL is the API's base URL, like http://localhost:8080.
	APIURL string
	// AuditURL is the auditor's base URL (the task history); empty means
	// the API's.
	AuditURL string
	// HTTP sends the requests; nil means a client with a 30 s timeout.
	HTTP *http.Client
}

// Credentials are whom a call acts for.
type Credentials struct {
	// Authorization is the header value, "Bearer <token>".
	Authorization string
	// TimeZone is the user's IANA zone (for "today"); empty means UTC.
	TimeZone string
}

// apiError is a REST answer other than 2xx, carrying the problem's detail
// and the fields at fault, which the tool hands to the agent.
type apiError struct {
	Status int
	Title  string
	Detail string
	Fields []fieldError
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TaskFlow answered %d", e.Status)
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for _, f := range e.Fields {
		if !strings.Contains(e.Detail, f.Field) {
			fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
		}
	}
	return b.String()
}

// call sends one request and decodes a JSON answer into out (when non-nil).
func (b *Backend) call(ctx context.Context, cred Credentials, method, base, path string, query url.Values, body, out any) error {
	u := strings.TrimRight(base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if cred.Authorization != "" {
		req.Header.Set("Authorization", cred.Authorization)
	}
	if cred.TimeZone != "" {
		req.Header.Set("Time-Zone", cred.TimeZone)
	}
	client := b.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("TaskFlow could not be reached: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read TaskFlow's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		var p struct {
			Title  string       `json:"title"`
			Detail string       `json:"detail"`
			Errors []fieldError `json:"errors"`
		}
		if json.Unmarshal(raw, &p) == nil {
			e.Title, e.Detail, e.Fields = p.Title, p.Detail, p.Errors
		}
		if e.Title == "" {
			e.Title = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out)
}

func (b *Backend) api(ctx context.Context, cred Credentials, method, path string, query url.Values, body, out any) error {
	return b.call(ctx, cred, method, b.APIURL, path, query, body, out)
}

func (b *Backend) audit(ctx context.Context, cred Credentials, path string, query url.Values, out any) error {
	base := b.AuditURL
	if base == "" {
		base = b.APIURL
	}
	return b.call(ctx, cred, http.MethodGet, base, path, query, nil, out)
}
