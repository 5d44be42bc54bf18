package k8scheck_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/taskflow/taskflow/tools/k8scheck"
	"sigs.k8s.io/yaml"
)

// runApp is an app of dapr.yaml, the common settings filled in.
type runApp struct {
	AppID                  string   `json:"appID"`
	AppPort                int      `json:"appPort"`
	AppProtocol            string   `json:"appProtocol"`
	EnableAppHealthCheck   *bool    `json:"enableAppHealthCheck"`
	AppHealthCheckPath     string   `json:"appHealthCheckPath"`
	AppHealthProbeInterval int      `json:"appHealthProbeInterval"`
	Command                []string `json:"command"`
}

type runTemplate struct {
	ResourcesPaths []string
	ConfigFilePath string
	Apps           map[string]runApp
}

func loadRunTemplate(tb testing.TB) runTemplate {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "dapr.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var raw struct {
		Common struct {
			ResourcesPaths []string `json:"resourcesPaths"`
			ConfigFilePath string   `json:"configFilePath"`
			runApp
		} `json:"common"`
		Apps []runApp `json:"apps"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		tb.Fatalf("dapr.yaml: %v", err)
	}
	rt := runTemplate{ResourcesPaths: raw.Common.ResourcesPaths, ConfigFilePath: raw.Common.ConfigFilePath, Apps: map[string]runApp{}}
	for _, a := range raw.Apps {
		if a.AppProtocol == "" {
			a.AppProtocol = raw.Common.AppProtocol
		}
		if a.EnableAppHealthCheck == nil {
			a.EnableAppHealthCheck = raw.Common.EnableAppHealthCheck
		}
		if a.AppHealthCheckPath == "" {
			a.AppHealthCheckPath = raw.Common.AppHealthCheckPath
		}
		if a.AppHealthProbeInterval == 0 {
			a.AppHealthProbeInterval = raw.Common.AppHealthProbeInterval
		}
		rt.Apps[a.AppID] = a
	}
	if len(rt.Apps) == 0 || len(rt.ResourcesPaths) != 1 {
		tb.Fatalf("dapr.yaml: apps %v, resourcesPaths %v: want apps and one resources path", rt.Apps, rt.ResourcesPaths)
	}
	return rt
}

func loadCompose(tb testing.TB) *types.Project {
	tb.Helper()
	root, _ := filepath.Abs(repoRoot)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("taskflow"), cli.WithEnv([]string{}))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// flags parses a daprd command line (--name value, --name=value, bare
// boolean flags).
func flags(cmd []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(cmd); i++ {
		a := cmd[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			out[n] = v
			continue
		}
		if i+1 < len(cmd) && !strings.HasPrefix(cmd[i+1], "-") {
			out[name] = cmd[i+1]
			i++
		} else {
			out[name] = "true"
		}
	}
	return out
}

// TestComposeMatchesRunTemplate: the Compose file runs the apps of dapr.yaml
// with the same app ids, ports, protocols and health checks, each next to a
// daprd in its network namespace that loads components/ and its
// Configuration, and finds what the components read from its environment.
func TestComposeMatchesRunTemplate(t *testing.T) {
	t.Parallel()
	rt := loadRunTemplate(t)
	p := loadCompose(t)
	root, _ := filepath.Abs(repoRoot)
	componentsDir := filepath.Join(root, path.Clean(rt.ResourcesPaths[0]))
	components := localComponents(t, componentsDir)

	sidecars := map[string]types.ServiceConfig{} // app id -> daprd service
	for _, s := range p.Services {
		if len(s.Command) == 0 || path.Base(s.Command[0]) != "daprd" {
			continue
		}
		f := flags(s.Command[1:])
		id := f["app-id"]
		app, ok := rt.Apps[id]
		if !ok {
			t.Errorf("service %s: daprd for app id %q, which dapr.yaml does not have", s.Name, id)
			continue
		}
		if _, dup := sidecars[id]; dup {
			t.Errorf("service %s: a second daprd for %s", s.Name, id)
		}
		sidecars[id] = s
		if want := "service:" + id; s.NetworkMode != want {
			t.Errorf("service %s: network_mode %q, want %q (the app's network namespace, as in a pod)", s.Name, s.NetworkMode, want)
		}
		if _, ok := p.Services[id]; !ok {
			t.Errorf("service %s: no service %s for its app", s.Name, id)
		}
		for flag, want := range map[string]string{
			"app-port":                  strconv.Itoa(app.AppPort),
			"app-protocol":              app.AppProtocol,
			"enable-app-health-check":   strconv.FormatBool(app.EnableAppHealthCheck != nil && *app.EnableAppHealthCheck),
			"app-health-check-path":     app.AppHealthCheckPath,
			"app-health-probe-interval": strconv.Itoa(app.AppHealthProbeInterval),
		} {
			got, ok := f[flag]
			if !ok && flag == "enable-app-health-check" {
				got = "false"
			}
			if got != want {
				t.Errorf("service %s: --%s %q, dapr.yaml has %q", s.Name, flag, got, want)
			}
		}
		// components/ mounted where --resources-path points, the
		// Configuration of dapr.yaml's configFilePath inside it.
		mount := ""
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && filepath.Clean(v.Source) == componentsDir {
				mount = v.Target
			}
		}
		if mount == "" || f["resources-path"] != mount {
			t.Errorf("service %s: --resources-path %q, ./%s mounted at %q: want the mount", s.Name, f["resources-path"], rt.ResourcesPaths[0], mount)
		}
		rel, err := filepath.Rel(componentsDir, filepath.Join(root, path.Clean(rt.ConfigFilePath)))
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("dapr.yaml: configFilePath %s is outside %s", rt.ConfigFilePath, rt.ResourcesPaths[0])
		}
		if want := path.Join(mount, filepath.ToSlash(rel)); f["config"] != want {
			t.Errorf("service %s: --config %q, want %q (dapr.yaml's %s)", s.Name, f["config"], want, rt.ConfigFilePath)
		}
		for _, addr := range []string{"placement-host-address", "scheduler-host-address"} {
			host, _, _ := strings.Cut(f[addr], ":")
			if _, ok := p.Services[host]; !ok {
				t.Errorf("service %s: --%s %q names no service", s.Name, addr, f[addr])
			}
		}
		// What the components scoped to this app read from daprd's environment.
		for _, c := range components {
			if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, id) {
				continue
			}
			for _, m := range c.Spec.Metadata {
				if m.EnvRef == "" {
					continue
				}
				if v, ok := s.Environment[m.EnvRef]; !ok || v == nil || *v == "" {
					t.Errorf("service %s: component %s reads %s (envRef), which its environment does not set", s.Name, c.Metadata.Name, m.EnvRef)
				}
			}
		}
	}
	for id, app := range rt.Apps {
		if _, ok := sidecars[id]; !ok {
			t.Errorf("no daprd service for app %s of dapr.yaml", id)
		}
		s, ok := p.Services[id]
		if !ok {
			t.Errorf("no service %s (app of dapr.yaml)", id)
			continue
		}
		bin := path.Base(app.Command[len(app.Command)-1])
		if len(s.Command) == 0 || path.Base(s.Command[0]) != bin {
			t.Errorf("service %s: runs %v, want the %s binary as dapr.yaml's %v", id, s.Command, bin, app.Command)
		}
		if v := s.Environment["APP_PORT"]; v == nil || *v != strconv.Itoa(app.AppPort) {
			t.Errorf("service %s: APP_PORT %v, want %d", id, v, app.AppPort)
		}
		// Sidecar and app share the tokens they authenticate each other with.
		if d, ok := sidecars[id]; ok {
			for _, tok := range []string{"APP_API_TOKEN", "DAPR_API_TOKEN"} {
				a, b := s.Environment[tok], d.Environment[tok]
				if a == nil || b == nil || *a != *b || *a == "" {
					t.Errorf("service %s and its daprd: %s differs or is unset", id, tok)
				}
			}
		}
	}
}

// component is what the Compose check reads of a Dapr Component (its full
// schema is checked against Dapr's CRD in TestLocalDaprResourcesDecodeStrictly).
type component struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Scopes []string `json:"scopes"`
	Spec   struct {
		Metadata []struct {
			Name   string `json:"name"`
			EnvRef string `json:"envRef"`
		} `json:"metadata"`
	} `json:"spec"`
}

func localComponents(tb testing.TB, dir string) []component {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var out []component
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		objs, err := k8scheck.ParseYAML(f, data)
		if err != nil {
			tb.Fatal(err)
		}
		for _, o := range objs {
			if o.GVK.Kind != "Component" {
				continue
			}
			var c component
			if err := yaml.Unmarshal(o.JSON, &c); err != nil {
				tb.Fatal(err)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no Components", dir)
	}
	return out
}
