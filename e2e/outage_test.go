package e2e_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// dbProxy stands between the stack and PostgreSQL; cut drops every
// connection and refuses new ones, as a database that went away would.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// cut takes the database away; restore brings it back.
func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *dbProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestDatabaseOutage: PostgreSQL goes away for 10 s under load. The API
// answers 503 with Retry-After (never another 5xx), readiness goes false,
// nothing is half-written, and everything recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	var proxy *dbProxy
	e := startStack(t, stackOptions{dbURL: func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		proxy = newDBProxy(t, u.Host)
		u.Host = proxy.ln.Addr().String()
		return u.String()
	}})
	alice := e.as(t, "alice-"+uuid.NewString())
	before := alice.must(201, "POST", "/api/v1/tasks", map[string]any{"title": "before the outage"}).task(t)

	ready := func(app string) int {
		resp, err := http.Get(e.stack.App(app).URL + "/health/ready")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	proxy.cut()
	outage := time.Now()
	eventually(t, 30*time.Second, "the api's readiness to go false", func() bool { return ready("api") == 503 })

	// Load during the outage: every answer is a 503 with Retry-After.
	statuses := map[int]int{}
	var created []string
	for time.Since(outage) < 10*time.Second {
		for _, r := range []reply{
			alice.do("POST", "/api/v1/tasks", map[string]any{"title": "during the outage"}),
			alice.do("PATCH", "/api/v1/tasks/"+before.ID.String(), map[string]any{"title": "changed during the outage"}),
			alice.do("GET", "/api/v1/tasks", nil),
		} {
			statuses[r.status]++
			switch {
			case r.status == 503 && r.header.Get("Retry-After") == "":
				t.Errorf("503 without Retry-After: %s", r.body)
			case r.status >= 500 && r.status != 503:
				t.Errorf("answered %d during the outage: %s", r.status, r.body)
			case r.status == 201:
				created = append(created, r.task(t).ID.String())
			}
		}
	}
	proxy.restore()
	eventually(t, 60*time.Second, "the api to be ready again", func() bool { return ready("api") == 200 })
	eventually(t, 60*time.Second, "writes to succeed again", func() bool {
		return alice.do("POST", "/api/v1/tasks", map[string]any{"title": "after the outage"}).status == 201
	})
	// Nothing half-written: the task is as it was or fully changed, with
	// its events; any create acknowledged meanwhile exists.
	got := alice.must(200, "GET", "/api/v1/tasks/"+before.ID.String(), nil).task(t)
	if got.Title != "before the outage" && got.Title != "changed during the outage" {
		t.Fatalf("task after the outage: %+v", got)
	}
	e.events.wait(t, before.ID.String(), int(got.Version))
	for _, id := range created {
		alice.must(200, "GET", "/api/v1/tasks/"+id, nil)
	}
	if statuses[503] == 0 {
		t.Fatalf("no 503 during the outage: %v", statuses)
	}
	t.Logf("during a 10 s database outage: answers %v; recovered without a restart", statuses)
}
