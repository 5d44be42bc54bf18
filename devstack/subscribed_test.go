package devstack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// subscriberFixture is an app that subscribes to two topics and a sidecar
// whose metadata lists listed() subscriptions; both check Dapr's tokens.
type subscriberFixture struct {
	stack          *Stack
	in             *instance
	metadataCalls  atomic.Int32
	badTokenCalls  atomic.Int32
	subscribeRoute bool
}

func newSubscriberFixture(t *testing.T, subscribeRoute bool, listed func(call int32) int) *subscriberFixture {
	t.Helper()
	f := &subscriberFixture{subscribeRoute: subscribeRoute}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.subscribeRoute {
			http.NotFound(w, r)
			return
		}
		if !f.serves(w, r, "/dapr/subscribe", "app-token") {
			return
		}
		io.WriteString(w, `[{"pubsubname":"p","topic":"a","route":"/a"},{"pubsubname":"p","topic":"b","route":"/b"}]`)
	}))
	t.Cleanup(app.Close)
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.serves(w, r, "/v1.0/metadata", "sidecar-token") {
			return
		}
		n := listed(f.metadataCalls.Add(1))
		subs := make([]string, n)
		for i := range subs {
			subs[i] = `{"pubsubname":"p","topic":"t` + strconv.Itoa(i) + `"}`
		}
		io.WriteString(w, `{"id":"sub","subscriptions":[`+strings.Join(subs, ",")+`]}`)
	}))
	t.Cleanup(sidecar.Close)

	life, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.stack = &Stack{
		opts: Options{
			ReadyTimeout: 2 * time.Second,
			AppEnv:       map[string]map[string]string{"sub": {"APP_API_TOKEN": "app-token"}},
		},
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		runFile: &RunFile{},
		env:     map[string]string{"DAPR_API_TOKEN": "sidecar-token", "APP_API_TOKEN": "not-the-apps"},
		http:    &http.Client{Timeout: time.Second},
		life:    life,
		cancel:  cancel,
	}
	f.in = &instance{
		cfg:     AppConfig{AppID: "sub", AppProtocol: "http"},
		ports:   sidecarPorts{App: port(t, app.URL), HTTP: port(t, sidecar.URL)},
		sidecar: &process{name: "sub-daprd", logPath: "/dev/null", done: make(chan struct{})},
	}
	return f
}

// serves answers 404 off path and 401 without Dapr's token header set to
// token, and reports whether the request is for the handler to answer.
func (f *subscriberFixture) serves(w http.ResponseWriter, r *http.Request, path, token string) bool {
	if r.URL.Path != path {
		http.NotFound(w, r)
		return false
	}
	if r.Header.Get("dapr-api-token") != token {
		f.badTokenCalls.Add(1)
		http.Error(w, "wrong token", http.StatusUnauthorized)
		return false
	}
	return true
}

func port(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWaitSubscribedWaitsForTheSidecarToListTheAppsSubscriptions(t *testing.T) {
	// The sidecar lists none, then one, then both (its app health probe
	// passed and it subscribed).
	f := newSubscriberFixture(t, true, func(call int32) int { return min(int(call)-1, 2) })
	if err := f.stack.waitSubscribed(t.Context(), f.in, f.in.sidecar); err != nil {
		t.Fatal(err)
	}
	if n := f.metadataCalls.Load(); n != 3 {
		t.Errorf("returned after %d metadata answers, want 3 (the first with both subscriptions)", n)
	}
	if n := f.badTokenCalls.Load(); n != 0 {
		t.Errorf("%d calls without the right token (the app's APP_API_TOKEN, the sidecar's DAPR_API_TOKEN)", n)
	}
}

func TestWaitSubscribedFailsWhenTheSubscriptionsNeverCome(t *testing.T) {
	f := newSubscriberFixture(t, true, func(int32) int { return 1 })
	f.stack.opts.ReadyTimeout = 500 * time.Millisecond
	err := f.stack.waitSubscribed(t.Context(), f.in, f.in.sidecar)
	if err == nil || !strings.Contains(err.Error(), "subscriptions not ready") || !strings.Contains(err.Error(), "1 of 2 subscriptions in place") {
		t.Fatalf("err = %v, want subscriptions not ready, 1 of 2 in place", err)
	}
}

func TestWaitSubscribedSkipsAnAppThatSubscribesToNothing(t *testing.T) {
	f := newSubscriberFixture(t, false, func(int32) int { return 0 })
	if err := f.stack.waitSubscribed(t.Context(), f.in, f.in.sidecar); err != nil {
		t.Fatal(err)
	}
	if n := f.metadataCalls.Load(); n != 0 {
		t.Errorf("asked the sidecar %d times for an app without GET /dapr/subscribe", n)
	}
	// A gRPC app is not asked at all.
	f.subscribeRoute = true
	f.in.cfg.AppProtocol = "grpc"
	if err := f.stack.waitSubscribed(t.Context(), f.in, f.in.sidecar); err != nil {
		t.Fatal(err)
	}
	if n := f.metadataCalls.Load(); n != 0 {
		t.Errorf("asked the sidecar %d times for a gRPC app", n)
	}
}
