// Package k8s_test keeps the Kubernetes manifests under k8s/ in step with the
// rest of the repository, so that drift fails CI instead of a rollout:
//
//   - each Deployment's Dapr app id, app port, health settings and binary
//     against dapr.yaml (the local run template) and the Dockerfile;
//   - the Dapr Components and Configuration against components/;
//   - the environment variables a Deployment sets against those its app reads
//     (scanned from cmd/<app> and internal/platform);
//   - resources, probes, security contexts, graceful shutdown, spread, PDBs,
//     HPAs, Services, Ingresses, the Kafka topics and namespaces;
//   - the production Ingress routing each app's public /api/v1 prefix to its Service;
//   - every kustomization.yaml and what its patches target.
//
// With kustomize or kubectl on the PATH the overlays are rendered and the
// result is checked the same way as the base.
package k8s_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/task"
)

// repoRoot is the repository root as seen from this package's directory.
const repoRoot = ".."

// appDrain is how long an app may take to shut down after SIGTERM: every
// cmd/<app>/main.go gives its servers 20 s.
const appDrain = 20 * time.Second

// goRuntimeEnv are variables the Go runtime reads in every binary.
var goRuntimeEnv = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC"}

// mainEnv are read in every app by platform.Main (tracing) and the
// OpenTelemetry SDK, not by the app's own code the scan follows.
var mainEnv = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"}

// injectedEnv are set by the Dapr sidecar injector; a Deployment must not.
var injectedEnv = []string{"DAPR_HTTP_PORT", "DAPR_GRPC_PORT", "APP_PROTOCOL"}

// tokenEnv are the Dapr tokens an app container reads, each from the Secret
// its annotation gives daprd (key "token", the only one Dapr reads). Dapr
// 1.18's injector sets them in the daprd container only, so the Deployment
// sets them for the app: APP_API_TOKEN, which daprd sends with every call to
// the app, and DAPR_API_TOKEN, which daprd requires on calls to its API (the
// Dapr Go SDK's client reads it).
var tokenEnv = map[string]string{
	"APP_API_TOKEN":  "dapr.io/app-token-secret",
	"DAPR_API_TOKEN": "dapr.io/api-token-secret",
}

// sseApps stream Server-Sent Events; an Ingress in front of them must not buffer.
var sseApps = []string{"notifier"}

// publicRoutes are the path prefixes each app (by Dapr app id) serves to
// users; the production Ingress must send each to a Service of that app, the
// longest matching prefix winning. Keep it in step with the apps' routes.
var publicRoutes = []struct{ app, prefix string }{
	{"api", "/api/v1"},                    // api.Server: app.Group("/api/v1")
	{"notifier", "/api/v1/notifications"}, // cmd/notifier: stream and session
	{"auditor", "/api/v1/audit"},          // auditor.QueryHandler
}

// kafkaTopics are the topics the manifests create, each with the Kafka
// cluster the pub/sub's brokers point at: the task events every app reads,
// and the auditor's dead letters.
var kafkaTopics = []string{task.Topic, auditor.DeadLetterTopic}

// kafkaUse is what each app does on Kafka through the pub/sub component it
// names: the actors' outbox relay publishes every task event; the auditor
// reads them, publishes the ones it can never write (auditor.DeadLetterTopic)
// and takes those into its inbox (auditor/inbox.go); the notifier reads the
// task events and publishes the ones it can never store as dead letters too
// (cmd/notifier: auditor.NewDaprDeadLetters on its own component). The Kafka
// user of a component must allow what its scoped apps do, and nothing more.
var kafkaUse = map[string]struct{ publishes, reads []string }{
	"actors":   {publishes: []string{task.Topic}},
	"auditor":  {publishes: []string{auditor.DeadLetterTopic}, reads: []string{task.Topic, auditor.DeadLetterTopic}},
	"notifier": {publishes: []string{auditor.DeadLetterTopic}, reads: []string{task.Topic}},
}

// k8sOnlyMetadata are Component metadata items that may appear on Kubernetes
// only (authentication to the cluster's Kafka); envDependentMetadata may differ
// in value from components/ (local development runs without auth and TLS).
var (
	k8sOnlyMetadata      = []string{"saslUsername", "saslPassword", "saslMechanism", "caCert", "clientCert", "clientKey", "skipVerify"}
	envDependentMetadata = []string{"authType", "disableTls"}
)

// ---------------------------------------------------------------------------
// Manifest documents

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type header struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Patch      string     `yaml:"$patch"`
}

// doc is one YAML document of a manifest file.
type doc struct {
	header
	file string // relative to the repository root
	node *yaml.Node
}

func (d doc) String() string { return fmt.Sprintf("%s: %s %s", d.file, d.Kind, d.Metadata.Name) }

func (d doc) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := d.node.Decode(v); err != nil {
		tb.Fatalf("%s: %v", d, err)
	}
}

// parseDocs reads every non-empty YAML document of data.
func parseDocs(file string, data []byte) ([]doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(n.Content) == 0 || n.Content[0].Tag == "!!null" {
			continue // a document of comments only
		}
		d := doc{file: file, node: &n}
		if err := n.Decode(&d.header); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		docs = append(docs, d)
	}
}

func readDocs(tb testing.TB, file string) []doc {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		tb.Fatal(err)
	}
	docs, err := parseDocs(file, data)
	if err != nil {
		tb.Fatal(err)
	}
	return docs
}

func ofKind(docs []doc, kind string) []doc {
	var out []doc
	for _, d := range docs {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

func find(docs []doc, kind, name string) (doc, bool) {
	for _, d := range docs {
		if d.Kind == kind && d.Metadata.Name == name {
			return d, true
		}
	}
	return doc{}, false
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// selects reports whether the selector is non-empty and matches labels.
func (s labelSelector) selects(labels map[string]string) bool {
	if len(s.MatchLabels) == 0 {
		return false
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type envVar struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef     *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef  *keyRef `yaml:"configMapKeyRef"`
		ResourceFieldRef *struct {
			ContainerName string `yaml:"containerName"`
			Resource      string `yaml:"resource"`
		} `yaml:"resourceFieldRef"`
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type securityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	Capabilities             *struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env       []envVar `yaml:"env"`
	EnvFrom   []any    `yaml:"envFrom"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	SecurityContext *securityContext `yaml:"securityContext"`
}

// portNumber resolves a probe or Service target port (number or name).
func (c container) portNumber(p any) (int, bool) {
	switch v := p.(type) {
	case int:
		return v, true
	case string:
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

type deployment struct {
	header `yaml:",inline"`
	Spec   struct {
		Replicas *int          `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds *int             `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               *securityContext `yaml:"securityContext"`
				TopologySpreadConstraints     []struct {
					TopologyKey   string        `yaml:"topologyKey"`
					LabelSelector labelSelector `yaml:"labelSelector"`
				} `yaml:"topologySpreadConstraints"`
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func (d deployment) annotation(key string) string { return d.Spec.Template.Metadata.Annotations[key] }

func (d deployment) container(name string) (container, bool) {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return container{}, false
}

type service struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type hpa struct {
	header `yaml:",inline"`
	Spec   struct {
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas *int `yaml:"minReplicas"`
		MaxReplicas int  `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource *struct {
				Name string `yaml:"name"`
			} `yaml:"resource"`
			ContainerResource *struct {
				Name      string `yaml:"name"`
				Container string `yaml:"container"`
			} `yaml:"containerResource"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

type pdb struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector       labelSelector `yaml:"selector"`
		MinAvailable   any           `yaml:"minAvailable"`
		MaxUnavailable any           `yaml:"maxUnavailable"`
	} `yaml:"spec"`
}

type ingress struct {
	header `yaml:",inline"`
	Spec   struct {
		Rules []struct {
			Host string `yaml:"host"`
			HTTP struct {
				Paths []struct {
					Path     string `yaml:"path"`
					PathType string `yaml:"pathType"`
					Backend  struct {
						Service struct {
							Name string `yaml:"name"`
							Port struct {
								Name   string `yaml:"name"`
								Number int    `yaml:"number"`
							} `yaml:"port"`
						} `yaml:"service"`
					} `yaml:"backend"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

type metadataItem struct {
	Name         string  `yaml:"name"`
	Value        *string `yaml:"value"`
	EnvRef       string  `yaml:"envRef"`
	SecretKeyRef *keyRef `yaml:"secretKeyRef"`
}

type component struct {
	header `yaml:",inline"`
	Spec   struct {
		Type     string         `yaml:"type"`
		Version  string         `yaml:"version"`
		Metadata []metadataItem `yaml:"metadata"`
	} `yaml:"spec"`
	Scopes []string `yaml:"scopes"`
}

func (c component) item(name string) (metadataItem, bool) {
	for _, m := range c.Spec.Metadata {
		if m.Name == name {
			return m, true
		}
	}
	return metadataItem{}, false
}

type kafkaTopic struct {
	header `yaml:",inline"`
	Spec   struct {
		Partitions int            `yaml:"partitions"`
		Replicas   int            `yaml:"replicas"`
		Config     map[string]any `yaml:"config"`
	} `yaml:"spec"`
}

type kafkaACL struct {
	Type     string `yaml:"type"`
	Resource struct {
		Type        string `yaml:"type"`
		Name        string `yaml:"name"`
		PatternType string `yaml:"patternType"`
	} `yaml:"resource"`
	Operations []string `yaml:"operations"`
	Host       string   `yaml:"host"`
}

// allows reports whether the rule lets its user do op on the resource
// resType/name.
func (a kafkaACL) allows(resType, name, op string) bool {
	if a.Type != "" && a.Type != "allow" || a.Resource.Type != resType {
		return false
	}
	if !slices.Contains(a.Operations, op) && !slices.Contains(a.Operations, "All") {
		return false
	}
	if a.Resource.PatternType == "prefix" {
		return strings.HasPrefix(name, a.Resource.Name)
	}
	return name == a.Resource.Name
}

type kafkaUser struct {
	header `yaml:",inline"`
	Spec   struct {
		Authentication struct {
			Type string `yaml:"type"`
		} `yaml:"authentication"`
		Authorization struct {
			Type string     `yaml:"type"`
			ACLs []kafkaACL `yaml:"acls"`
		} `yaml:"authorization"`
	} `yaml:"spec"`
}

type kafkaListener struct {
	Name           string `yaml:"name"`
	Port           int    `yaml:"port"`
	TLS            bool   `yaml:"tls"`
	Authentication *struct {
		Type string `yaml:"type"`
	} `yaml:"authentication"`
}

type kafkaCluster struct {
	header `yaml:",inline"`
	Spec   struct {
		Kafka struct {
			Listeners     []kafkaListener `yaml:"listeners"`
			Authorization *struct {
				Type string `yaml:"type"`
			} `yaml:"authorization"`
		} `yaml:"kafka"`
	} `yaml:"spec"`
}

type kustomization struct {
	Resources  []string `yaml:"resources"`
	Components []string `yaml:"components"`
	Patches    []struct {
		Path   string `yaml:"path"`
		Patch  string `yaml:"patch"`
		Target *struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"target"`
	} `yaml:"patches"`
	PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
	Replicas              []struct {
		Name string `yaml:"name"`
	} `yaml:"replicas"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
	ConfigMapGenerator []generator `yaml:"configMapGenerator"`
	SecretGenerator    []generator `yaml:"secretGenerator"`
}

type generator struct {
	Files []string `yaml:"files"`
	Envs  []string `yaml:"envs"`
}

// ---------------------------------------------------------------------------
// Facts about the rest of the repository

type runApp struct {
	AppID                  string   `yaml:"appID"`
	AppPort                int      `yaml:"appPort"`
	AppProtocol            string   `yaml:"appProtocol"`
	EnableAppHealthCheck   *bool    `yaml:"enableAppHealthCheck"`
	AppHealthCheckPath     string   `yaml:"appHealthCheckPath"`
	AppHealthProbeInterval int      `yaml:"appHealthProbeInterval"`
	Command                []string `yaml:"command"`
}

type runTemplate struct {
	Common struct {
		ResourcesPaths []string `yaml:"resourcesPaths"`
		ConfigFilePath string   `yaml:"configFilePath"`
		runApp         `yaml:",inline"`
	} `yaml:"common"`
	Apps []runApp `yaml:"apps"`
}

// repo holds what the manifests must agree with.
type repo struct {
	apps            map[string]runApp // dapr.yaml, by app id, common settings filled in
	localComponents map[string]component
	localConfig     string              // the Configuration's name in dapr.yaml's configFilePath
	imageBinaries   []string            // ./cmd/<name> built by the Dockerfile
	imageBinDir     string              // where the Dockerfile copies them
	envReads        map[string][]string // binary -> environment variables it reads
	secretKeys      map[string][]string // secret.example.yaml: Secret -> keys
}

func loadRepo(tb testing.TB) *repo {
	tb.Helper()
	r := &repo{apps: map[string]runApp{}, localComponents: map[string]component{}, secretKeys: map[string][]string{}}

	var rt runTemplate
	data, err := os.ReadFile(filepath.Join(repoRoot, "dapr.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rt); err != nil {
		tb.Fatalf("dapr.yaml: %v", err)
	}
	for _, a := range rt.Apps {
		if len(a.Command) == 0 {
			tb.Fatalf("dapr.yaml: app %s has no command", a.AppID)
		}
		if a.AppProtocol == "" {
			a.AppProtocol = rt.Common.AppProtocol
		}
		if a.EnableAppHealthCheck == nil {
			a.EnableAppHealthCheck = rt.Common.EnableAppHealthCheck
		}
		if a.AppHealthCheckPath == "" {
			a.AppHealthCheckPath = rt.Common.AppHealthCheckPath
		}
		if a.AppHealthProbeInterval == 0 {
			a.AppHealthProbeInterval = rt.Common.AppHealthProbeInterval
		}
		r.apps[a.AppID] = a
	}
	if len(r.apps) == 0 {
		tb.Fatal("dapr.yaml: no apps")
	}

	for _, dir := range rt.Common.ResourcesPaths {
		files, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*.yaml"))
		for _, f := range files {
			rel, _ := filepath.Rel(repoRoot, f)
			for _, d := range ofKind(readDocs(tb, filepath.ToSlash(rel)), "Component") {
				var c component
				d.decode(tb, &c)
				r.localComponents[c.Metadata.Name] = c
			}
		}
	}
	if len(r.localComponents) == 0 {
		tb.Fatalf("dapr.yaml: no Components under %v", rt.Common.ResourcesPaths)
	}
	for _, d := range readDocs(tb, path.Clean(rt.Common.ConfigFilePath)) {
		if d.Kind == "Configuration" {
			r.localConfig = d.Metadata.Name
		}
	}
	if r.localConfig == "" {
		tb.Fatalf("%s: no Configuration", rt.Common.ConfigFilePath)
	}

	r.imageBinaries, r.imageBinDir = dockerfileBinaries(tb)
	r.envReads = envReads(tb, r.imageBinaries)

	for _, d := range readDocs(tb, "k8s/base/secret.example.yaml") {
		var s struct {
			Data       map[string]string `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
		}
		d.decode(tb, &s)
		for k := range s.Data {
			r.secretKeys[d.Metadata.Name] = append(r.secretKeys[d.Metadata.Name], k)
		}
		for k := range s.StringData {
			r.secretKeys[d.Metadata.Name] = append(r.secretKeys[d.Metadata.Name], k)
		}
	}
	return r
}

var (
	dockerfileCmd  = regexp.MustCompile(`\./cmd/([A-Za-z0-9_-]+)`)
	dockerfileCopy = regexp.MustCompile(`^COPY\s+--from=\S+\s+/out/\s+(\S+)`)
)

// dockerfileBinaries returns the ./cmd/<name> packages of the Dockerfile's
// go build and the directory the final stage copies them to.
func dockerfileBinaries(tb testing.TB) (bins []string, dir string) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	for line := range strings.SplitSeq(joined, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "RUN") && strings.Contains(line, "go build") {
			for _, m := range dockerfileCmd.FindAllStringSubmatch(line, -1) {
				bins = append(bins, m[1])
			}
		}
		if m := dockerfileCopy.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			dir = path.Clean(m[1])
		}
	}
	if len(bins) == 0 || dir == "" {
		tb.Fatalf("Dockerfile: found binaries %v, destination %q; want a go build of ./cmd/... and a COPY of /out/", bins, dir)
	}
	return bins, dir
}

// envReads scans cmd/<bin> for calls like env.String("NAME", ...) and, one
// level down, for internal/platform functions it calls that read variables
// themselves (platform.AuthConfig reads the JWT_* variables).
func envReads(tb testing.TB, bins []string) map[string][]string {
	tb.Helper()
	platform := map[string][]string{}
	scanDir(tb, "internal/platform", func(f *ast.File) {
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				names, _ := envCalls(fn)
				platform[fn.Name.Name] = names
			}
		}
	})
	reads := map[string][]string{}
	for _, bin := range bins {
		scanDir(tb, "cmd/"+bin, func(f *ast.File) {
			names, calls := envCalls(f)
			reads[bin] = append(reads[bin], names...)
			for _, c := range calls {
				reads[bin] = append(reads[bin], platform[c]...)
			}
		})
		slices.Sort(reads[bin])
		reads[bin] = slices.Compact(reads[bin])
	}
	return reads
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// envCalls returns the variable names read in n through Env methods, and the
// names of functions called as platform.F(...).
func envCalls(n ast.Node) (names, platformCalls []string) {
	ast.Inspect(n, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "platform" {
			platformCalls = append(platformCalls, sel.Sel.Name)
		}
		switch sel.Sel.Name {
		case "String", "Int", "Duration", "Bool", "Port":
			if len(call.Args) > 0 {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
						names = append(names, s)
					}
				}
			}
		}
		return true
	})
	return names, platformCalls
}

func scanDir(tb testing.TB, dir string, fn func(*ast.File)) {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("%s: no Go files (%v)", dir, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			tb.Fatal(err)
		}
		fn(af)
	}
}

// ---------------------------------------------------------------------------
// Kustomize layout

// kustomizations returns every kustomization.yaml under k8s/, by directory.
func kustomizations(tb testing.TB) map[string]kustomization {
	tb.Helper()
	out := map[string]kustomization{}
	err := filepath.WalkDir(filepath.Join(repoRoot, "k8s"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Name() != "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var k kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(repoRoot, filepath.Dir(p))
		out[filepath.ToSlash(rel)] = k
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// resourceDocs returns the documents a kustomization's resources produce
// (before any patch), following directories into their kustomizations.
func resourceDocs(tb testing.TB, dir string, all map[string]kustomization) []doc {
	tb.Helper()
	k, ok := all[dir]
	if !ok {
		tb.Fatalf("%s: no kustomization.yaml", dir)
	}
	var docs []doc
	for _, r := range k.Resources {
		p := path.Join(dir, r)
		if _, ok := all[p]; ok {
			docs = append(docs, resourceDocs(tb, p, all)...)
		} else {
			docs = append(docs, readDocs(tb, p)...)
		}
	}
	return docs
}

func TestKustomizationsReferenceExistingFiles(t *testing.T) {
	t.Parallel()
	all := kustomizations(t)
	if _, ok := all["k8s/base"]; !ok {
		t.Fatal("k8s/base/kustomization.yaml is missing")
	}
	referenced := map[string]bool{}
	for dir, k := range all {
		var files []string
		files = append(files, k.Resources...)
		files = append(files, k.Components...)
		files = append(files, k.PatchesStrategicMerge...)
		for _, p := range k.Patches {
			if p.Path != "" {
				files = append(files, p.Path)
			}
		}
		for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
			files = append(files, g.Envs...)
			for _, f := range g.Files {
				_, f, _ = strings.Cut(f, "=") // key=path
				files = append(files, f)
			}
		}
		for _, f := range files {
			p := path.Join(dir, f)
			st, err := os.Stat(filepath.Join(repoRoot, p))
			switch {
			case err != nil:
				t.Errorf("%s/kustomization.yaml lists %s: %v", dir, f, err)
			case st.IsDir():
				if _, ok := all[p]; !ok {
					t.Errorf("%s/kustomization.yaml lists directory %s, which has no kustomization.yaml", dir, f)
				}
			default:
				referenced[p] = true
				if strings.HasSuffix(p, ".example.yaml") {
					t.Errorf("%s/kustomization.yaml lists %s: example files are documentation, not resources", dir, f)
				}
				for _, d := range readDocs(t, p) {
					if d.Kind == "Secret" {
						t.Errorf("%s: Secrets are created per cluster (secret.example.yaml), not applied from git", d)
					}
				}
			}
		}
	}
	// A manifest no kustomization lists is never applied: probably a mistake.
	err := filepath.WalkDir(filepath.Join(repoRoot, "k8s"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if e.Name() != "kustomization.yaml" && !strings.HasSuffix(rel, ".example.yaml") && !referenced[rel] {
			t.Errorf("%s is listed in no kustomization.yaml", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOverlayPatchesMatchBase(t *testing.T) {
	t.Parallel()
	r := loadRepo(t)
	all := kustomizations(t)
	base := resourceDocs(t, "k8s/base", all)
	for dir, k := range all {
		if dir == "k8s/base" {
			continue
		}
		for _, p := range k.Patches {
			if p.Target != nil && p.Target.Kind != "" && len(ofKind(base, p.Target.Kind)) == 0 {
				t.Errorf("%s: a patch targets kind %s, which the base does not have", dir, p.Target.Kind)
			}
			if p.Path == "" {
				continue
			}
			for _, d := range readDocs(t, path.Join(dir, p.Path)) {
				target, ok := find(base, d.Kind, d.Metadata.Name)
				if !ok {
					t.Errorf("%s patches nothing: the base has no %s %s", d, d.Kind, d.Metadata.Name)
					continue
				}
				if d.Metadata.Namespace != target.Metadata.Namespace {
					t.Errorf("%s: namespace %q, the patched resource's is %q", d, d.Metadata.Namespace, target.Metadata.Namespace)
				}
				if d.Kind != "Deployment" {
					continue
				}
				var patch, orig deployment
				d.decode(t, &patch)
				target.decode(t, &orig)
				for _, c := range patch.Spec.Template.Spec.Containers {
					if _, ok := orig.container(c.Name); !ok {
						t.Errorf("%s: container %q is not in the base Deployment (the patch would add a container)", d, c.Name)
					}
				}
				checkEnv(t, d.String(), binaryOf(orig, r), patch, nil, r)
			}
		}
		for _, rep := range k.Replicas {
			if _, ok := find(base, "Deployment", rep.Name); !ok {
				t.Errorf("%s/kustomization.yaml: replicas for %s, which is no Deployment of the base", dir, rep.Name)
			}
		}
		for _, img := range k.Images {
			used := false
			for _, d := range ofKind(base, "Deployment") {
				var dep deployment
				d.decode(t, &dep)
				for _, c := range dep.Spec.Template.Spec.Containers {
					used = used || c.Image == img.Name || strings.HasPrefix(c.Image, img.Name+":")
				}
			}
			if !used {
				t.Errorf("%s/kustomization.yaml: image %q is used by no container of the base", dir, img.Name)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// The checks every complete set of manifests (the base, a rendered overlay) passes

func TestBase(t *testing.T) {
	t.Parallel()
	r := loadRepo(t)
	docs := resourceDocs(t, "k8s/base", kustomizations(t))
	checkManifests(t, "k8s/base", docs, r)

	// The base is production-shaped: at least two replicas of every app,
	// either fixed or as the HPA's minimum (never both: apply would reset it).
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		minimum := 0
		if dep.Spec.Replicas != nil {
			minimum = *dep.Spec.Replicas
		}
		for _, h := range hpasOf(t, docs, dep.Metadata.Name) {
			if h.Spec.MinReplicas != nil {
				minimum = *h.Spec.MinReplicas
			}
		}
		if minimum < 2 {
			t.Errorf("%s: runs %d replica(s) at minimum, want at least 2", d, minimum)
		}
	}
}

// TestProductionKafkaIsTLSAndSCRAM: in production every pub/sub component
// reaches Kafka over TLS as a SCRAM-SHA-512 user, the cluster has no listener
// without both and authorizes with ACLs. (overlays/local may stay plain: its
// components only have to match its listener, checkKafkaSecurity.) The
// overlay patches nothing, so its resources are what it applies.
func TestProductionKafkaIsTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	const dir = "k8s/overlays/production"
	all := kustomizations(t)
	if k := all[dir]; len(k.Patches)+len(k.PatchesStrategicMerge) > 0 {
		t.Fatalf("%s patches resources: check it rendered instead", dir)
	}
	docs := resourceDocs(t, dir, all)
	checkKafkaSecurity(t, dir, docs)
	n := 0
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		if c.Spec.Type != "pubsub.kafka" {
			continue
		}
		n++
		for item, want := range map[string]string{"authType": "password", "saslMechanism": "SHA-512", "disableTls": "false"} {
			if got := c.value(item); got != want {
				t.Errorf("%s: %s %q, want %q", d, item, got, want)
			}
		}
		if m, ok := c.item("saslPassword"); !ok || m.SecretKeyRef == nil {
			t.Errorf("%s: saslPassword must come from a Secret", d)
		}
	}
	if n == 0 {
		t.Errorf("%s: no Kafka pub/sub component", dir)
	}
	kafkas := ofKind(docs, "Kafka")
	if len(kafkas) != 1 {
		t.Fatalf("%s: %d Kafka clusters, want 1", dir, len(kafkas))
	}
	var k kafkaCluster
	kafkas[0].decode(t, &k)
	if a := k.Spec.Kafka.Authorization; a == nil || a.Type != "simple" {
		t.Errorf("%s: authorization %+v, want simple (ACLs of the KafkaUsers)", kafkas[0], a)
	}
	for _, l := range k.Spec.Kafka.Listeners {
		if !l.TLS || l.Authentication == nil || l.Authentication.Type != "scram-sha-512" {
			t.Errorf("%s: listener %s (port %d) has tls %v, authentication %+v: want every listener TLS with SCRAM-SHA-512", kafkas[0], l.Name, l.Port, l.TLS, l.Authentication)
		}
	}
	if len(ofKind(docs, "KafkaUser")) == 0 {
		t.Errorf("%s: no KafkaUser", dir)
	}
}

// TestProductionIngressRoutes checks the production overlay's routing without rendering
// it (the overlay adds the Ingresses to the base and patches neither).
func TestProductionIngressRoutes(t *testing.T) {
	t.Parallel()
	const dir = "k8s/overlays/production"
	all := kustomizations(t)
	if k := all[dir]; len(k.Patches)+len(k.PatchesStrategicMerge) > 0 {
		t.Fatalf("%s patches resources: check its routes on the rendered overlay instead", dir)
	}
	checkPublicRoutes(t, dir, resourceDocs(t, dir, all))
}

// TestRenderedOverlays builds every overlay with kustomize (or kubectl
// kustomize) and checks the result like the base.
func TestRenderedOverlays(t *testing.T) {
	t.Parallel()
	var build []string
	if p, err := exec.LookPath("kustomize"); err == nil {
		build = []string{p, "build"}
	} else if p, err := exec.LookPath("kubectl"); err == nil {
		build = []string{p, "kustomize"}
	} else if os.Getenv("TASKFLOW_FULL_TESTS") != "" {
		// make test sets it: there a missing renderer is a failure, not a skip.
		t.Fatal("neither kustomize nor kubectl on the PATH: the overlays cannot be rendered")
	} else {
		t.Skip("neither kustomize nor kubectl on the PATH: overlays not rendered")
	}
	r := loadRepo(t)
	for dir := range kustomizations(t) {
		if !strings.HasPrefix(dir, "k8s/overlays/") {
			continue
		}
		t.Run(path.Base(dir), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, build[0], append(build[1:], filepath.Join(repoRoot, dir))...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", strings.Join(build, " "), dir, err, stderr.String())
			}
			docs, err := parseDocs(dir+" (rendered)", out)
			if err != nil {
				t.Fatal(err)
			}
			checkManifests(t, dir+" (rendered)", docs, r)
		})
	}
}

func checkManifests(t *testing.T, label string, docs []doc, r *repo) {
	t.Helper()
	for _, d := range docs {
		if d.Kind == "Secret" {
			t.Errorf("%s: Secrets are created per cluster (secret.example.yaml), not applied from git", d)
		}
	}
	checkNamespaces(t, label, docs)
	checkDeployments(t, label, docs, r)
	checkServicesAndIngresses(t, docs)
	if len(ofKind(docs, "Ingress")) > 0 {
		checkPublicRoutes(t, label, docs)
	}
	checkScaling(t, docs)
	checkComponents(t, label, docs, r)
	checkKafkaTopic(t, label, docs)
	checkKafkaSecurity(t, label, docs)
	checkMigrations(t, label, docs, r)
}

type job struct {
	header `yaml:",inline"`
	Spec   struct {
		BackoffLimit            *int `yaml:"backoffLimit"`
		TTLSecondsAfterFinished *int `yaml:"ttlSecondsAfterFinished"`
		Template                struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				RestartPolicy   string           `yaml:"restartPolicy"`
				SecurityContext *securityContext `yaml:"securityContext"`
				Containers      []container      `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// migrateKey is the key of the Secret taskflow-db holding the database
// owner's URL: only the migration Job may use it.
const migrateKey = "migrate-url"

// checkMigrations: one Job runs `taskflow migrate up` from the apps' image as
// the database owner (non-root, read-only, bounded retries, cleaned up); the
// apps do not migrate (DB_MIGRATE "false", which they read) and each connects
// with a URL of its own, never the owner's.
func checkMigrations(t *testing.T, label string, docs []doc, r *repo) {
	t.Helper()
	jobs := ofKind(docs, "Job")
	if len(jobs) != 1 {
		t.Errorf("%s: %d Jobs, want 1 (the migrations)", label, len(jobs))
		return
	}
	var j job
	jobs[0].decode(t, &j)
	d := jobs[0]
	spec := j.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", d, len(spec.Containers))
	}
	c := spec.Containers[0]
	if want := []string{path.Join(r.imageBinDir, "taskflow"), "migrate", "up"}; !slices.Equal(c.Command, want) || !slices.Contains(r.imageBinaries, "taskflow") {
		t.Errorf("%s: command %v, want %v (cmd/taskflow, built by the Dockerfile %v)", d, c.Command, want, r.imageBinaries)
	}
	if j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit < 1 || *j.Spec.BackoffLimit > 10 {
		t.Errorf("%s: backoffLimit %v, want a few retries (1-10)", d, j.Spec.BackoffLimit)
	}
	if j.Spec.TTLSecondsAfterFinished == nil || *j.Spec.TTLSecondsAfterFinished < 60 {
		t.Errorf("%s: ttlSecondsAfterFinished %v: want it cleaned up (so the next apply can make it with a new image), after a minute at least", d, j.Spec.TTLSecondsAfterFinished)
	}
	if spec.RestartPolicy != "Never" && spec.RestartPolicy != "OnFailure" {
		t.Errorf("%s: restartPolicy %q", d, spec.RestartPolicy)
	}
	if j.Spec.Template.Metadata.Annotations["dapr.io/enabled"] == "true" {
		t.Errorf("%s: a Dapr sidecar would keep the Job from completing", d)
	}
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: want runAsNonRoot with a non-zero runAsUser, readOnlyRootFilesystem, allowPrivilegeEscalation: false and capabilities.drop [ALL]", d)
	}
	checkQuantities(t, d.String(), c.Resources.Requests, c.Resources.Limits)
	dbURL := func(env []envVar) *keyRef {
		for _, e := range env {
			if e.Name == "DATABASE_URL" && e.ValueFrom != nil {
				return e.ValueFrom.SecretKeyRef
			}
		}
		return nil
	}
	if ref := dbURL(c.Env); ref == nil || ref.Name != "taskflow-db" || ref.Key != migrateKey {
		t.Errorf("%s: DATABASE_URL must come from the Secret taskflow-db, key %s (the owner)", d, migrateKey)
	}
	for _, e := range c.Env {
		if !slices.Contains(r.envReads["taskflow"], e.Name) {
			t.Errorf("%s: %s is not read by cmd/taskflow (it reads %v)", d, e.Name, r.envReads["taskflow"])
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && !slices.Contains(r.secretKeys[ref.SecretKeyRef.Name], ref.SecretKeyRef.Key) {
			t.Errorf("%s: %s reads Secret %s key %s, which secret.example.yaml does not document", d, e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
		}
	}

	keys := map[string]string{}
	for _, dd := range ofKind(docs, "Deployment") {
		var dep deployment
		dd.decode(t, &dep)
		ac := dep.Spec.Template.Spec.Containers[0]
		if ac.Image != c.Image {
			t.Errorf("%s: image %q, the migration Job's is %q: the Job must apply the migrations this image embeds", dd, ac.Image, c.Image)
		}
		if i := slices.IndexFunc(ac.Env, func(e envVar) bool { return e.Name == "DB_MIGRATE" }); i < 0 || ac.Env[i].Value == nil || *ac.Env[i].Value != "false" {
			t.Errorf("%s: want DB_MIGRATE \"false\": the Job migrates, the app's role may not", dd)
		}
		ref := dbURL(ac.Env)
		switch {
		case ref == nil:
			t.Errorf("%s: DATABASE_URL not from a Secret", dd)
		case ref.Key == migrateKey:
			t.Errorf("%s: DATABASE_URL is the owner's (%s): want the app's own role", dd, migrateKey)
		case keys[ref.Key] != "":
			t.Errorf("%s: DATABASE_URL key %s is also %s's: want a role per app", dd, ref.Key, keys[ref.Key])
		default:
			keys[ref.Key] = dd.Metadata.Name
		}
	}
	for _, cd := range ofKind(docs, "Component") {
		var comp component
		cd.decode(t, &comp)
		for _, m := range comp.Spec.Metadata {
			if m.SecretKeyRef != nil && m.SecretKeyRef.Name == "taskflow-db" && (m.SecretKeyRef.Key == migrateKey || keys[m.SecretKeyRef.Key] != "") {
				t.Errorf("%s: %s from taskflow-db key %s: want a role of the state store's own", cd, m.Name, m.SecretKeyRef.Key)
			}
		}
	}
}

// kafkaKinds are Strimzi's resources: they live with the Kafka cluster, in its
// namespace (checked in checkKafkaTopic).
var kafkaKinds = []string{"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}

// checkNamespaces wants one Namespace and everything else in it, but the
// Strimzi resources (kafkaKinds).
func checkNamespaces(t *testing.T, label string, docs []doc) {
	t.Helper()
	namespaces := ofKind(docs, "Namespace")
	if len(namespaces) != 1 {
		t.Fatalf("%s: %d Namespaces, want 1", label, len(namespaces))
	}
	ns := namespaces[0].Metadata.Name
	for _, d := range docs {
		if d.Kind != "Namespace" && !slices.Contains(kafkaKinds, d.Kind) && d.Metadata.Namespace != ns {
			t.Errorf("%s: namespace %q, want %q", d, d.Metadata.Namespace, ns)
		}
	}
}

// binaryOf is the cmd/<name> a Deployment runs, from its container's command.
func binaryOf(dep deployment, r *repo) string {
	for _, c := range dep.Spec.Template.Spec.Containers {
		if len(c.Command) > 0 && path.Dir(c.Command[0]) == r.imageBinDir {
			return path.Base(c.Command[0])
		}
	}
	return ""
}

func checkDeployments(t *testing.T, label string, docs []doc, r *repo) {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		ann := dep.annotation
		id := ann("dapr.io/app-id")
		app, ok := r.apps[id]
		if ann("dapr.io/enabled") != "true" || !ok {
			t.Errorf("%s: dapr.io/enabled %q, dapr.io/app-id %q; want \"true\" and an app id of dapr.yaml", d, ann("dapr.io/enabled"), id)
			continue
		}
		if seen[id] {
			t.Errorf("%s: a second Deployment for app id %s", d, id)
		}
		seen[id] = true
		port := strconv.Itoa(app.AppPort)

		// Dapr settings as dapr.yaml has them.
		for key, want := range map[string]string{
			"dapr.io/app-port":                  port,
			"dapr.io/app-protocol":              app.AppProtocol,
			"dapr.io/enable-app-health-check":   strconv.FormatBool(app.EnableAppHealthCheck != nil && *app.EnableAppHealthCheck),
			"dapr.io/app-health-check-path":     app.AppHealthCheckPath,
			"dapr.io/app-health-probe-interval": strconv.Itoa(app.AppHealthProbeInterval),
			"dapr.io/config":                    r.localConfig,
			"dapr.io/log-as-json":               "true",
			"prometheus.io/scrape":              "true",
			"prometheus.io/port":                port,
			"prometheus.io/path":                "/metrics",
		} {
			if got := ann(key); got != want {
				t.Errorf("%s: annotation %s is %q, want %q", d, key, got, want)
			}
		}
		if _, ok := find(docs, "Configuration", ann("dapr.io/config")); !ok {
			t.Errorf("%s: dapr.io/config %q names no Configuration in %s", d, ann("dapr.io/config"), label)
		}
		checkQuantities(t, d.String()+" sidecar",
			map[string]string{"cpu": ann("dapr.io/sidecar-cpu-request"), "memory": ann("dapr.io/sidecar-memory-request")},
			map[string]string{"cpu": ann("dapr.io/sidecar-cpu-limit"), "memory": ann("dapr.io/sidecar-memory-limit")})

		// The binary: the one dapr.yaml runs for this app, built into the image.
		bin := binaryOf(dep, r)
		if want := path.Base(app.Command[len(app.Command)-1]); bin != want {
			t.Errorf("%s: runs %q, want %s/%s as dapr.yaml's command %v", d, bin, r.imageBinDir, want, app.Command)
		}
		if !slices.Contains(r.imageBinaries, bin) {
			t.Errorf("%s: binary %q is not built by the Dockerfile (%v)", d, bin, r.imageBinaries)
		}

		spec := dep.Spec.Template.Spec
		podLabels := dep.Spec.Template.Metadata.Labels
		if !dep.Spec.Selector.selects(podLabels) {
			t.Errorf("%s: selector %v does not match the pod labels %v", d, dep.Spec.Selector.MatchLabels, podLabels)
		}
		if len(spec.Containers) != 1 {
			t.Errorf("%s: %d containers, want the app's only (daprd is injected)", d, len(spec.Containers))
			continue
		}
		c := spec.Containers[0]
		if c.Name != id {
			t.Errorf("%s: container %q, want it named after the app id %q", d, c.Name, id)
		}
		if n, ok := c.portNumber("http"); !ok || n != app.AppPort || len(c.Ports) != 1 {
			t.Errorf("%s: container ports %+v, want one port \"http\" %d", d, c.Ports, app.AppPort)
		}
		for name, p := range map[string]struct {
			probe *probe
			path  string
		}{
			"startupProbe":   {c.StartupProbe, "/health/live"},
			"livenessProbe":  {c.LivenessProbe, "/health/live"},
			"readinessProbe": {c.ReadinessProbe, "/health/ready"},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no %s (httpGet %s)", d, name, p.path)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s: %s path %q, want %q", d, name, p.probe.HTTPGet.Path, p.path)
			}
			if n, ok := c.portNumber(p.probe.HTTPGet.Port); !ok || n != app.AppPort {
				t.Errorf("%s: %s port %v, want the app port %d", d, name, p.probe.HTTPGet.Port, app.AppPort)
			}
		}
		checkQuantities(t, d.String()+" container "+c.Name, c.Resources.Requests, c.Resources.Limits)
		checkEnv(t, d.String(), bin, dep, docs, r)
		for name, key := range tokenEnv {
			secret := ann(key)
			if secret == "" {
				t.Errorf("%s: no annotation %s: daprd and the app would not authenticate each other", d, key)
			}
			if !slices.ContainsFunc(c.Env, func(e envVar) bool { return e.Name == name }) {
				t.Errorf("%s: does not set %s (from Secret %q, key token) for the app", d, name, secret)
			}
			if _, ok := r.secretKeys[secret]; secret != "" && !ok {
				t.Errorf("%s: %s names Secret %q, which secret.example.yaml does not document", d, key, secret)
			}
		}
		if len(c.EnvFrom) > 0 {
			t.Errorf("%s: envFrom hides which variables are set; use env", d)
		}
		if i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == "APP_PORT" }); i < 0 || c.Env[i].Value == nil || *c.Env[i].Value != port {
			t.Errorf("%s: want APP_PORT set to the app port %s", d, port)
		}

		// Security: non-root, read-only, no privilege escalation, no capabilities.
		psc, csc := spec.SecurityContext, c.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext needs runAsNonRoot: true and a non-zero runAsUser", d)
		}
		if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
			csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot ||
			csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: container securityContext needs runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation: false and capabilities.drop [ALL]", d)
		}

		// Graceful shutdown fits the grace period, for the app and for daprd.
		grace := 0
		if spec.TerminationGracePeriodSeconds != nil {
			grace = *spec.TerminationGracePeriodSeconds
		}
		if grace != 30 {
			t.Errorf("%s: terminationGracePeriodSeconds %d, want 30", d, grace)
		}
		preStop := 0
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = c.Lifecycle.PreStop.Sleep.Seconds
		}
		if total := time.Duration(preStop)*time.Second + appDrain; total > time.Duration(grace)*time.Second {
			t.Errorf("%s: preStop %ds + app drain %s exceeds the %ds grace period", d, preStop, appDrain, grace)
		}
		var sidecar time.Duration
		if v := ann("dapr.io/block-shutdown-duration"); v != "" {
			b, err := time.ParseDuration(v)
			if err != nil {
				t.Errorf("%s: dapr.io/block-shutdown-duration: %v", d, err)
			}
			sidecar += b
		}
		if v := ann("dapr.io/graceful-shutdown-seconds"); v != "" {
			s, err := strconv.Atoi(v)
			if err != nil {
				t.Errorf("%s: dapr.io/graceful-shutdown-seconds: %v", d, err)
			}
			sidecar += time.Duration(s) * time.Second
		}
		if sidecar > time.Duration(grace)*time.Second {
			t.Errorf("%s: daprd's block + graceful shutdown %s exceeds the %ds grace period", d, sidecar, grace)
		}

		if len(spec.TopologySpreadConstraints) == 0 {
			t.Errorf("%s: no topologySpreadConstraints", d)
		}
		for _, tsc := range spec.TopologySpreadConstraints {
			if !tsc.LabelSelector.selects(podLabels) {
				t.Errorf("%s: topology spread over %s selects %v, not this app's pods", d, tsc.TopologyKey, tsc.LabelSelector.MatchLabels)
			}
		}
		budgets := 0
		for _, pd := range ofKind(docs, "PodDisruptionBudget") {
			var b pdb
			pd.decode(t, &b)
			if b.Spec.Selector.selects(podLabels) {
				budgets++
			}
		}
		if budgets != 1 {
			t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", d, budgets)
		}
	}
	for id := range r.apps {
		if !seen[id] {
			t.Errorf("%s: no Deployment for app %s of dapr.yaml", label, id)
		}
	}
}

// checkEnv checks the variables of dep's containers: each is read by the app
// (or the Go runtime), none is one the sidecar injector sets, and their
// Secret, ConfigMap and resource references resolve. docs nil skips the
// ConfigMap check (a patch document alone).
func checkEnv(t *testing.T, where, bin string, dep deployment, docs []doc, r *repo) {
	t.Helper()
	reads, ok := r.envReads[bin]
	if !ok {
		t.Errorf("%s: runs %q, whose environment is unknown (not a binary of the Dockerfile)", where, bin)
		return
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		// An app that verifies tokens must be given its key: without one it
		// refuses to start rather than accept the public development secret,
		// which only TASKFLOW_DEV_AUTH (local runs) allows.
		if slices.Contains(reads, "JWT_SECRET") && docs != nil {
			keyed := slices.ContainsFunc(c.Env, func(e envVar) bool {
				return (e.Name == "JWT_SECRET" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil) || e.Name == "JWKS_URL"
			})
			if !keyed {
				t.Errorf("%s: cmd/%s verifies tokens but the Deployment sets neither JWT_SECRET (from a Secret) nor JWKS_URL", where, bin)
			}
		}
		if slices.ContainsFunc(c.Env, func(e envVar) bool { return e.Name == "TASKFLOW_DEV_AUTH" }) {
			t.Errorf("%s: TASKFLOW_DEV_AUTH (the public development secret) must never be set on Kubernetes", where)
		}
		seen := map[string]bool{}
		for _, e := range c.Env {
			switch {
			case seen[e.Name]:
				t.Errorf("%s: %s is set twice", where, e.Name)
			case slices.Contains(injectedEnv, e.Name):
				t.Errorf("%s: %s is set by the Dapr sidecar injector; do not set it", where, e.Name)
			case tokenEnv[e.Name] != "":
				ann := tokenEnv[e.Name]
				secret := dep.annotation(ann)
				if docs == nil && secret == "" {
					break // a patch that leaves the annotation alone
				}
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != "token" {
					t.Errorf("%s: %s must come from the Secret %s names (%q), key \"token\", as daprd's does", where, e.Name, ann, secret)
				}
			case !slices.Contains(reads, e.Name) && !slices.Contains(goRuntimeEnv, e.Name) && !slices.Contains(mainEnv, e.Name):
				t.Errorf("%s: %s is not read by cmd/%s (it reads %v)", where, e.Name, bin, reads)
			}
			seen[e.Name] = true
			if e.ValueFrom == nil {
				continue
			}
			if ref := e.ValueFrom.SecretKeyRef; ref != nil && !slices.Contains(r.secretKeys[ref.Name], ref.Key) {
				t.Errorf("%s: %s reads Secret %s key %s, which secret.example.yaml does not document", where, e.Name, ref.Name, ref.Key)
			}
			if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil && docs != nil {
				cm, ok := find(docs, "ConfigMap", ref.Name)
				var data struct {
					Data map[string]string `yaml:"data"`
				}
				if ok {
					cm.decode(t, &data)
				}
				if _, has := data.Data[ref.Key]; !has {
					t.Errorf("%s: %s reads ConfigMap %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
				}
			}
			if ref := e.ValueFrom.ResourceFieldRef; ref != nil && ref.ContainerName != "" && ref.ContainerName != c.Name {
				t.Errorf("%s: %s refers to container %q", where, e.Name, ref.ContainerName)
			}
		}
	}
}

func checkServicesAndIngresses(t *testing.T, docs []doc) {
	t.Helper()
	deployments := ofKind(docs, "Deployment")
	for _, d := range ofKind(docs, "Service") {
		var svc service
		d.decode(t, &svc)
		var matched []deployment
		for _, dd := range deployments {
			var dep deployment
			dd.decode(t, &dep)
			if (labelSelector{MatchLabels: svc.Spec.Selector}).selects(dep.Spec.Template.Metadata.Labels) {
				matched = append(matched, dep)
			}
		}
		if len(matched) == 0 && selectsStatefulSet(t, docs, svc.Spec.Selector) {
			continue // a backing service of an overlay (overlays/local: PostgreSQL)
		}
		if len(matched) != 1 {
			t.Errorf("%s: selects %d Deployments, want 1", d, len(matched))
			continue
		}
		dep := matched[0]
		for _, p := range svc.Spec.Ports {
			n, ok := dep.Spec.Template.Spec.Containers[0].portNumber(p.TargetPort)
			want, _ := strconv.Atoi(dep.annotation("dapr.io/app-port"))
			if !ok || n != want || p.Port != want {
				t.Errorf("%s: port %d -> %v, want the app port %d on both sides", d, p.Port, p.TargetPort, want)
			}
		}
	}
	for _, d := range ofKind(docs, "Ingress") {
		var ing ingress
		d.decode(t, &ing)
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				sd, ok := find(docs, "Service", b.Name)
				if !ok {
					t.Errorf("%s: path %s goes to Service %q, which does not exist", d, p.Path, b.Name)
					continue
				}
				var svc service
				sd.decode(t, &svc)
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp servicePort) bool {
					return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
				}) {
					t.Errorf("%s: path %s goes to a port Service %s does not have", d, p.Path, b.Name)
				}
				if slices.Contains(sseApps, b.Name) {
					ann := ing.Metadata.Annotations
					timeout, _ := strconv.Atoi(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"])
					if ann["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" || timeout < 300 {
						t.Errorf("%s: %s streams Server-Sent Events: want proxy-buffering \"off\" and proxy-read-timeout >= 300", d, b.Name)
					}
				}
			}
		}
	}
}

// selectsStatefulSet reports whether selector matches the pods of a StatefulSet.
func selectsStatefulSet(t *testing.T, docs []doc, selector map[string]string) bool {
	t.Helper()
	for _, d := range ofKind(docs, "StatefulSet") {
		var sts struct {
			Spec struct {
				Template struct {
					Metadata objectMeta `yaml:"metadata"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		d.decode(t, &sts)
		if (labelSelector{MatchLabels: selector}).selects(sts.Spec.Template.Metadata.Labels) {
			return true
		}
	}
	return false
}

// checkPublicRoutes wants, on every host of the Ingresses, each path of
// publicRoutes (the prefix itself and a path below it) to reach a Service of
// its app through the rule that wins: Exact before Prefix, the longest
// matching prefix first (as the Ingress spec has it).
func checkPublicRoutes(t *testing.T, label string, docs []doc) {
	t.Helper()
	type rule struct {
		path, pathType, service, port string
		from                          doc
	}
	hosts := map[string][]rule{}
	for _, d := range ofKind(docs, "Ingress") {
		var ing ingress
		d.decode(t, &ing)
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				hosts[r.Host] = append(hosts[r.Host], rule{p.Path, p.PathType, p.Backend.Service.Name, p.Backend.Service.Port.Name, d})
			}
		}
	}
	if len(hosts) == 0 {
		t.Errorf("%s: no Ingress rules: the apps' public routes are unreachable", label)
		return
	}
	// The Services selecting each app's pods, by Dapr app id.
	appServices := map[string][]string{}
	for _, dd := range ofKind(docs, "Deployment") {
		var dep deployment
		dd.decode(t, &dep)
		for _, sd := range ofKind(docs, "Service") {
			var svc service
			sd.decode(t, &svc)
			if (labelSelector{MatchLabels: svc.Spec.Selector}).selects(dep.Spec.Template.Metadata.Labels) {
				id := dep.annotation("dapr.io/app-id")
				appServices[id] = append(appServices[id], svc.Metadata.Name)
			}
		}
	}
	// matches returns how specific r is for p (longer wins), or -1.
	matches := func(r rule, p string) int {
		switch r.pathType {
		case "Exact":
			if p == r.path {
				return 1 << 20
			}
		case "Prefix", "ImplementationSpecific":
			prefix := strings.TrimSuffix(r.path, "/")
			if p == prefix || strings.HasPrefix(p, prefix+"/") || r.path == "/" {
				return len(prefix)
			}
		}
		return -1
	}
	for host, rules := range hosts {
		for _, route := range publicRoutes {
			for _, p := range []string{route.prefix, route.prefix + "/x"} {
				best, score := rule{}, -1
				for _, r := range rules {
					if m := matches(r, p); m > score {
						best, score = r, m
					}
				}
				switch {
				case score < 0:
					t.Errorf("%s: no Ingress rule of host %q routes %s (app %s)", label, host, p, route.app)
				case !slices.Contains(appServices[route.app], best.service):
					t.Errorf("%s: host %q routes %s to Service %q (path %s), want a Service of app %s %v", best.from, host, p, best.service, best.path, route.app, appServices[route.app])
				case best.port != "http":
					t.Errorf("%s: host %q routes %s to port %q of Service %s, want the port named http", best.from, host, p, best.port, best.service)
				}
			}
		}
	}
}

func hpasOf(t *testing.T, docs []doc, deploymentName string) []hpa {
	t.Helper()
	var out []hpa
	for _, d := range ofKind(docs, "HorizontalPodAutoscaler") {
		var h hpa
		d.decode(t, &h)
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == deploymentName {
			out = append(out, h)
		}
	}
	return out
}

// checkScaling: HPAs scale an existing Deployment on CPU, and a Deployment
// either has replicas or an HPA.
func checkScaling(t *testing.T, docs []doc) {
	t.Helper()
	for _, d := range ofKind(docs, "HorizontalPodAutoscaler") {
		var h hpa
		d.decode(t, &h)
		td, ok := find(docs, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		if !ok {
			t.Errorf("%s: scales %s %s, which does not exist", d, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
			continue
		}
		var dep deployment
		td.decode(t, &dep)
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("%s: minReplicas %v, maxReplicas %d", d, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		cpu := false
		for _, m := range h.Spec.Metrics {
			if cr := m.ContainerResource; m.Type == "ContainerResource" && cr != nil {
				if _, ok := dep.container(cr.Container); !ok {
					t.Errorf("%s: metric of container %q, which %s does not have", d, cr.Container, td)
				}
				cpu = cpu || cr.Name == "cpu"
			}
			cpu = cpu || (m.Type == "Resource" && m.Resource != nil && m.Resource.Name == "cpu")
		}
		if !cpu {
			t.Errorf("%s: does not scale on CPU", d)
		}
		if dep.Spec.Replicas != nil {
			t.Errorf("%s: sets replicas while an HPA scales it; every apply would reset the count", td)
		}
	}
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		if dep.Spec.Replicas == nil && len(hpasOf(t, docs, dep.Metadata.Name)) == 0 {
			t.Errorf("%s: neither replicas nor an HPA", d)
		}
	}
}

// checkComponents: the same Components as components/ (name, type, version,
// scopes, metadata), Kubernetes-style secrets, and the app ids they scope exist.
func checkComponents(t *testing.T, label string, docs []doc, r *repo) {
	t.Helper()
	k8s := map[string]component{}
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		k8s[c.Metadata.Name] = c
	}
	for name, local := range r.localComponents {
		c, ok := k8s[name]
		if !ok {
			t.Errorf("%s: no Component %s (components/ has it)", label, name)
			continue
		}
		if c.Spec.Type != local.Spec.Type || c.Spec.Version != local.Spec.Version {
			t.Errorf("%s: Component %s is %s %s, components/ has %s %s", label, name, c.Spec.Type, c.Spec.Version, local.Spec.Type, local.Spec.Version)
		}
		if !slices.Equal(slices.Sorted(slices.Values(c.Scopes)), slices.Sorted(slices.Values(local.Scopes))) {
			t.Errorf("%s: Component %s scopes %v, components/ has %v", label, name, c.Scopes, local.Scopes)
		}
		for _, lm := range local.Spec.Metadata {
			km, ok := c.item(lm.Name)
			switch {
			case !ok:
				t.Errorf("%s: Component %s lacks metadata %s", label, name, lm.Name)
			case lm.Value != nil && !slices.Contains(envDependentMetadata, lm.Name) && (km.Value == nil || *km.Value != *lm.Value):
				t.Errorf("%s: Component %s metadata %s differs from components/ (%q)", label, name, lm.Name, *lm.Value)
			}
		}
		for _, km := range c.Spec.Metadata {
			if _, ok := local.item(km.Name); !ok && !slices.Contains(k8sOnlyMetadata, km.Name) {
				t.Errorf("%s: Component %s has metadata %s, which components/ does not", label, name, km.Name)
			}
			if km.EnvRef != "" {
				t.Errorf("%s: Component %s metadata %s uses envRef: daprd has no such variable on Kubernetes; use value or secretKeyRef", label, name, km.Name)
			}
			if ref := km.SecretKeyRef; ref != nil && !slices.Contains(r.secretKeys[ref.Name], ref.Key) {
				t.Errorf("%s: Component %s reads Secret %s key %s, which secret.example.yaml does not document", label, name, ref.Name, ref.Key)
			}
		}
		for _, s := range c.Scopes {
			if _, ok := r.apps[s]; !ok {
				t.Errorf("%s: Component %s scopes %q, which is no app id of dapr.yaml", label, name, s)
			}
		}
	}
	for name := range k8s {
		if _, ok := r.localComponents[name]; !ok {
			t.Errorf("%s: Component %s has no counterpart in components/", label, name)
		}
	}
	if _, ok := find(docs, "Configuration", r.localConfig); !ok {
		t.Errorf("%s: no Configuration %s (components/ has it)", label, r.localConfig)
	}

	// Apps that read PUBSUB_NAME publish or subscribe: the component they
	// name (or the default) must be a pub/sub scoped to them.
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		bin := binaryOf(dep, r)
		if !slices.Contains(r.envReads[bin], "PUBSUB_NAME") {
			continue
		}
		name := "taskflow-pubsub" // the apps' default
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "PUBSUB_NAME" && e.Value != nil {
				name = *e.Value
			}
		}
		c, ok := k8s[name]
		id := dep.annotation("dapr.io/app-id")
		if !ok || !strings.HasPrefix(c.Spec.Type, "pubsub.") || !slices.Contains(c.Scopes, id) {
			t.Errorf("%s: uses pub/sub %q, which is no pubsub Component scoped to %s", d, name, id)
		}
	}
}

// checkKafkaTopic: the topics (kafkaTopics, once each) sit with the Kafka
// cluster the pub/sub's brokers point at, with sane replication and a
// retention; task-events has room for every subscriber replica, and the dead
// letters, kept for people to inspect, stay at least as long as the events.
func checkKafkaTopic(t *testing.T, label string, docs []doc) {
	t.Helper()
	var brokers string
	var consumers []string
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		if m, ok := c.item("brokers"); ok && c.Spec.Type == "pubsub.kafka" && m.Value != nil {
			brokers = *m.Value
			consumers = append(consumers, c.Scopes...)
		}
	}
	// Strimzi names the bootstrap Service <cluster>-kafka-bootstrap.
	host, _, _ := strings.Cut(strings.Split(brokers, ",")[0], ":")
	svc, ns, _ := strings.Cut(host, ".")
	cluster, clusterOK := strings.CutSuffix(svc, "-kafka-bootstrap")

	topics := map[string]kafkaTopic{}
	retention := map[string]int64{}
	for _, d := range ofKind(docs, "KafkaTopic") {
		var kt kafkaTopic
		d.decode(t, &kt)
		name := kt.Metadata.Name
		switch {
		case !slices.Contains(kafkaTopics, name):
			t.Errorf("%s: no app uses topic %q (want %v)", d, name, kafkaTopics)
			continue
		case topics[name].Metadata.Name != "":
			t.Errorf("%s: a second KafkaTopic %s", d, name)
		}
		topics[name] = kt
		if !clusterOK || kt.Metadata.Labels["strimzi.io/cluster"] != cluster || kt.Metadata.Namespace != ns {
			t.Errorf("%s: cluster %q in namespace %q, but the pub/sub's brokers are %q", d, kt.Metadata.Labels["strimzi.io/cluster"], kt.Metadata.Namespace, brokers)
		}
		minISR, _ := strconv.Atoi(fmt.Sprint(kt.Spec.Config["min.insync.replicas"]))
		if kt.Spec.Replicas < 1 || minISR < 1 || minISR > kt.Spec.Replicas || (kt.Spec.Replicas > 1 && minISR == kt.Spec.Replicas) {
			t.Errorf("%s: replicas %d with min.insync.replicas %d: want 1 <= min.insync.replicas < replicas (or both 1)", d, kt.Spec.Replicas, minISR)
		}
		if kt.Spec.Partitions < 1 {
			t.Errorf("%s: partitions %d", d, kt.Spec.Partitions)
		}
		ms, err := strconv.ParseInt(fmt.Sprint(kt.Spec.Config["retention.ms"]), 10, 64)
		if err != nil || (ms < 1 && ms != -1) {
			t.Errorf("%s: retention.ms %v: want milliseconds (or -1 for no limit)", d, kt.Spec.Config["retention.ms"])
		}
		if ms == -1 {
			ms = 1<<63 - 1
		}
		retention[name] = ms
	}
	// A Kafka cluster the overlay brings along (KRaft with node pools) is the
	// one the brokers name, with brokers enough for every topic's replicas.
	brokerNodes := 0
	for _, d := range ofKind(docs, "Kafka") {
		if d.Metadata.Name != cluster || d.Metadata.Namespace != ns {
			t.Errorf("%s: in namespace %q, but the pub/sub's brokers are %q", d, d.Metadata.Namespace, brokers)
		}
		for _, a := range []string{"strimzi.io/kraft", "strimzi.io/node-pools"} {
			if d.Metadata.Annotations[a] != "enabled" {
				t.Errorf("%s: annotation %s %q, want \"enabled\" (KRaft with node pools)", d, a, d.Metadata.Annotations[a])
			}
		}
	}
	for _, d := range ofKind(docs, "KafkaNodePool") {
		var np struct {
			Spec struct {
				Replicas int      `yaml:"replicas"`
				Roles    []string `yaml:"roles"`
			} `yaml:"spec"`
		}
		d.decode(t, &np)
		if d.Metadata.Labels["strimzi.io/cluster"] != cluster || d.Metadata.Namespace != ns {
			t.Errorf("%s: belongs to cluster %q in namespace %q, but the pub/sub's brokers are %q", d, d.Metadata.Labels["strimzi.io/cluster"], d.Metadata.Namespace, brokers)
		}
		if slices.Contains(np.Spec.Roles, "broker") {
			brokerNodes += np.Spec.Replicas
		}
	}
	if len(ofKind(docs, "Kafka")) > 0 {
		for name, kt := range topics {
			if kt.Spec.Replicas > brokerNodes {
				t.Errorf("%s: KafkaTopic %s wants %d replicas, the node pools have %d brokers", label, name, kt.Spec.Replicas, brokerNodes)
			}
		}
	}

	for _, name := range kafkaTopics {
		if _, ok := topics[name]; !ok {
			t.Errorf("%s: no KafkaTopic %s", label, name)
		}
	}
	if events, ok := retention[task.Topic]; ok {
		if dlq, ok := retention[auditor.DeadLetterTopic]; ok && dlq < events {
			t.Errorf("%s: %s keeps messages %d ms, less than %s (%d ms): dead letters are for people to inspect", label, auditor.DeadLetterTopic, dlq, task.Topic, events)
		}
	}

	// A consumer group uses at most one consumer per partition of task-events
	// (nothing subscribes to the dead letters).
	kt, ok := topics[task.Topic]
	if !ok {
		return
	}
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		if !slices.Contains(consumers, dep.annotation("dapr.io/app-id")) {
			continue
		}
		n := 0
		if dep.Spec.Replicas != nil {
			n = *dep.Spec.Replicas
		}
		for _, h := range hpasOf(t, docs, dep.Metadata.Name) {
			n = h.Spec.MaxReplicas
		}
		if n > kt.Spec.Partitions {
			t.Errorf("%s: up to %d replicas, but %s has %d partitions", d, n, task.Topic, kt.Spec.Partitions)
		}
	}
}

// value is the plain value of a Component's metadata item, or "".
func (c component) value(name string) string {
	if m, ok := c.item(name); ok && m.Value != nil {
		return *m.Value
	}
	return ""
}

// consumerGroup is the Kafka consumer group app reads c in: a literal name,
// or a prefix when Dapr adds a new {uuid} at every start.
func (c component) consumerGroup(app string) (name string, prefix bool) {
	g := strings.ReplaceAll(c.value("consumerGroup"), "{appID}", app)
	if before, _, ok := strings.Cut(g, "{uuid}"); ok {
		return before, true
	}
	return g, false
}

// checkKafkaSecurity: each Kafka pub/sub component talks to its cluster as the
// cluster's listener on that port wants (TLS or not, SCRAM or nothing), and
// when it authenticates, as a KafkaUser of the overlay (if the overlay brings
// the cluster) whose ACLs allow what the component's apps do (kafkaUse) and
// nothing else. A cluster with authorization lets no component in without a user.
func checkKafkaSecurity(t *testing.T, label string, docs []doc) {
	t.Helper()
	var clusters []kafkaCluster
	for _, d := range ofKind(docs, "Kafka") {
		var k kafkaCluster
		d.decode(t, &k)
		clusters = append(clusters, k)
	}
	users := map[string]kafkaUser{}
	for _, d := range ofKind(docs, "KafkaUser") {
		var u kafkaUser
		d.decode(t, &u)
		users[u.Metadata.Name] = u
		if u.Spec.Authentication.Type != "scram-sha-512" || u.Spec.Authorization.Type != "simple" {
			t.Errorf("%s: authentication %q, authorization %q; want scram-sha-512 and simple (ACLs)", d, u.Spec.Authentication.Type, u.Spec.Authorization.Type)
		}
	}
	usedUsers := map[string]bool{}
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		if c.Spec.Type != "pubsub.kafka" {
			continue
		}
		authType, tls := c.value("authType"), c.value("disableTls") != "true"
		switch authType {
		case "none":
			for _, m := range []string{"saslUsername", "saslPassword", "saslMechanism"} {
				if _, ok := c.item(m); ok {
					t.Errorf("%s: authType none with %s", d, m)
				}
			}
		case "password":
			if c.value("saslMechanism") != "SHA-512" {
				t.Errorf("%s: saslMechanism %q, want SHA-512 (Strimzi's SCRAM users are SCRAM-SHA-512)", d, c.value("saslMechanism"))
			}
			if !tls {
				t.Errorf("%s: SCRAM over a connection without TLS", d)
			}
		default:
			t.Errorf("%s: authType %q, want none or password (SCRAM)", d, authType)
		}
		if ca, ok := c.item("caCert"); tls && (!ok || ca.SecretKeyRef == nil) {
			t.Errorf("%s: TLS without caCert from a Secret: the brokers' certificates come from the Strimzi cluster CA", d)
		}
		if m, ok := c.item("skipVerify"); ok && (m.Value == nil || *m.Value != "false") {
			t.Errorf("%s: skipVerify: the brokers' certificates must be verified", d)
		}

		_, port, _ := strings.Cut(strings.Split(c.value("brokers"), ",")[0], ":")
		for _, k := range clusters {
			i := slices.IndexFunc(k.Spec.Kafka.Listeners, func(l kafkaListener) bool { return strconv.Itoa(l.Port) == port })
			if i < 0 {
				t.Errorf("%s: brokers %q, but Kafka %s has no listener on port %s", d, c.value("brokers"), k.Metadata.Name, port)
				continue
			}
			l := k.Spec.Kafka.Listeners[i]
			scram := l.Authentication != nil && l.Authentication.Type == "scram-sha-512"
			if l.TLS != tls || scram != (authType == "password") || (l.Authentication != nil && !scram) {
				t.Errorf("%s: disableTls %q and authType %q, but listener %s of Kafka %s has tls %v, authentication %+v", d, c.value("disableTls"), authType, l.Name, k.Metadata.Name, l.TLS, l.Authentication)
			}
			if k.Spec.Kafka.Authorization != nil && authType == "none" {
				t.Errorf("%s: no user, but Kafka %s authorizes users with ACLs", d, k.Metadata.Name)
			}
		}
		if authType != "password" || len(clusters) == 0 {
			continue
		}

		// The overlay brings the cluster: it brings the user too.
		name := c.value("saslUsername")
		u, ok := users[name]
		if !ok {
			t.Errorf("%s: saslUsername %q is no KafkaUser of %s", d, name, label)
			continue
		}
		usedUsers[name] = true
		if ref := func() *keyRef { m, _ := c.item("saslPassword"); return m.SecretKeyRef }(); ref == nil || ref.Name != name || ref.Key != "password" {
			t.Errorf("%s: saslPassword must come from the Secret %s, key password (Strimzi's user Secret, copied)", d, name)
		}
		// What the apps need: every rule of the user must serve one of them.
		type need struct{ resType, name, op string }
		var needs []need
		groups := map[string]bool{} // group patterns the apps read in ("name" or "prefix*")
		for _, app := range c.Scopes {
			use := kafkaUse[app]
			for _, topic := range use.publishes {
				needs = append(needs, need{"topic", topic, "Write"}, need{"topic", topic, "Describe"})
			}
			for _, topic := range use.reads {
				needs = append(needs, need{"topic", topic, "Read"}, need{"topic", topic, "Describe"})
			}
			if len(use.reads) > 0 {
				g, prefix := c.consumerGroup(app)
				if prefix {
					groups[g+"*"] = true
					g += "0b1c2d3e" // a group of one pod
				} else {
					groups[g] = true
				}
				needs = append(needs, need{"group", g, "Read"})
			}
		}
		for _, n := range needs {
			if !slices.ContainsFunc(u.Spec.Authorization.ACLs, func(a kafkaACL) bool { return a.allows(n.resType, n.name, n.op) }) {
				t.Errorf("%s: KafkaUser %s may not %s %s %s, which an app of Component %s (scopes %v) does", label, name, n.op, n.resType, n.name, c.Metadata.Name, c.Scopes)
			}
		}
		for _, a := range u.Spec.Authorization.ACLs {
			res := a.Resource
			pattern := res.Name
			if res.PatternType == "prefix" {
				pattern += "*"
			}
			switch {
			case a.Type == "deny":
				continue
			case a.Host != "" && a.Host != "*":
				// A narrower rule is fine.
			case res.Type == "group" && !groups[pattern]:
				t.Errorf("%s: KafkaUser %s may use group %s, in which no app of Component %s reads", label, name, pattern, c.Metadata.Name)
				continue
			case res.Type == "topic" && (res.PatternType == "prefix" || !slices.Contains(kafkaTopics, res.Name)):
				t.Errorf("%s: KafkaUser %s has a rule for topic %s: want literal rules for %v only", label, name, pattern, kafkaTopics)
				continue
			case res.Type != "topic" && res.Type != "group":
				t.Errorf("%s: KafkaUser %s has a rule for %s %s, which no app needs", label, name, res.Type, pattern)
				continue
			}
			for _, op := range a.Operations {
				if !slices.ContainsFunc(needs, func(n need) bool {
					return n.resType == res.Type && n.op == op && (n.name == res.Name || res.PatternType == "prefix" && strings.HasPrefix(n.name, res.Name))
				}) {
					t.Errorf("%s: KafkaUser %s may %s %s %s, which no app of Component %s (scopes %v) does", label, name, op, res.Type, pattern, c.Metadata.Name, c.Scopes)
				}
			}
		}
	}
	for name := range users {
		if !usedUsers[name] {
			t.Errorf("%s: KafkaUser %s is the saslUsername of no pub/sub component", label, name)
		}
	}
}

// checkQuantities wants cpu and memory requests and limits, limits >= requests.
func checkQuantities(t *testing.T, where string, requests, limits map[string]string) {
	t.Helper()
	for _, res := range []string{"cpu", "memory"} {
		req, err1 := quantity(requests[res])
		lim, err2 := quantity(limits[res])
		if err := errors.Join(err1, err2); err != nil {
			t.Errorf("%s: %s request %q, limit %q: %v", where, res, requests[res], limits[res], err)
			continue
		}
		if lim < req {
			t.Errorf("%s: %s limit %s below request %s", where, res, limits[res], requests[res])
		}
	}
}

// quantity parses a Kubernetes quantity such as 250m, 1, 512Mi or 1G.
func quantity(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	suffixes := []struct {
		s string
		f float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	for _, sf := range suffixes {
		if n, ok := strings.CutSuffix(s, sf.s); ok {
			v, err := strconv.ParseFloat(n, 64)
			return v * sf.f, err
		}
	}
	return strconv.ParseFloat(s, 64)
}

// TestEnvScan guards the scan the environment checks rely on: if it found
// nothing, every variable would look unread and the check would be noise, or
// worse, a refactoring of Env could make it pass vacuously.
func TestEnvScan(t *testing.T) {
	t.Parallel()
	r := loadRepo(t)
	for id, app := range r.apps {
		bin := path.Base(app.Command[len(app.Command)-1])
		if !slices.Contains(r.imageBinaries, bin) {
			t.Errorf("app %s: the Dockerfile does not build cmd/%s", id, bin)
			continue
		}
		for _, want := range []string{"APP_PORT", "DATABASE_URL", "LOG_LEVEL", "DAPR_HTTP_PORT"} {
			if !slices.Contains(r.envReads[bin], want) {
				t.Errorf("app %s (cmd/%s): the scan did not find %s among %v", id, bin, want, r.envReads[bin])
			}
		}
	}
	if !slices.Contains(r.envReads["api"], "JWT_SECRET") {
		t.Errorf("cmd/api: the scan did not follow platform.AuthConfig to JWT_SECRET: %v", r.envReads["api"])
	}
}

var (
	createTable = regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)( PARTITION OF)?`)
	dropTable   = regexp.MustCompile(`(?i)DROP TABLE (?:IF EXISTS )?([a-z_][a-z0-9_]*)`)
	grantOn     = regexp.MustCompile(`(?m)^GRANT [A-Z, ]+ ON ([a-z0-9_, ]+) TO ([a-z0-9_, ]+);`)
	dbURLUser   = regexp.MustCompile(`^postgres(?:ql)?://([^:@/]+)`)
)

// TestDatabaseRoles keeps k8s/base/roles.sql in step with the migrations and
// the Secret: every table the migrations leave is granted to some app role
// (a new table without grants would fail in production only), and each app's
// URL in secret.example.yaml logs in as the role roles.sql makes for it.
func TestDatabaseRoles(t *testing.T) {
	t.Parallel()
	sqlText, err := os.ReadFile(filepath.Join(repoRoot, "k8s", "base", "roles.sql"))
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string][]string{} // table -> roles
	for _, m := range grantOn.FindAllStringSubmatch(string(sqlText), -1) {
		for table := range strings.SplitSeq(m[1], ",") {
			for role := range strings.SplitSeq(m[2], ",") {
				granted[strings.TrimSpace(table)] = append(granted[strings.TrimSpace(table)], strings.TrimSpace(role))
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "migrations", "*.up.sql"))
	if len(files) == 0 {
		t.Fatal("no migrations/*.up.sql")
	}
	tables := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createTable.FindAllStringSubmatch(string(data), -1) {
			if m[2] == "" { // partitions share their parent's grants
				tables[strings.ToLower(m[1])] = true
			}
		}
		for _, m := range dropTable.FindAllStringSubmatch(string(data), -1) {
			delete(tables, strings.ToLower(m[1]))
		}
	}
	if len(tables) < 5 {
		t.Fatalf("found only the tables %v in the migrations: the scan is broken", tables)
	}
	for table := range tables {
		if len(granted[table]) == 0 {
			t.Errorf("k8s/base/roles.sql grants nothing on %s (a table of the migrations): no app could use it on Kubernetes", table)
		}
	}
	for table := range granted {
		if !tables[table] && table != "schema_migrations" {
			t.Errorf("k8s/base/roles.sql grants on %s, which the migrations do not create", table)
		}
	}

	r := loadRepo(t)
	docs := resourceDocs(t, "k8s/base", kustomizations(t))
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	for _, d := range readDocs(t, "k8s/base/secret.example.yaml") {
		if d.Metadata.Name == "taskflow-db" {
			d.decode(t, &secret)
		}
	}
	users := map[string]string{} // key -> database user of its example URL
	for key, url := range secret.StringData {
		if m := dbURLUser.FindStringSubmatch(url); m != nil {
			users[key] = m[1]
		}
	}
	roleOf := func(key string) {
		user := users[key]
		switch {
		case user == "":
			t.Errorf("secret.example.yaml: taskflow-db key %s has no example URL", key)
		case key == migrateKey:
		case !strings.Contains(string(sqlText), "'"+user+"'"):
			t.Errorf("secret.example.yaml: taskflow-db key %s logs in as %s, a role roles.sql does not make", key, user)
		case user == users[migrateKey]:
			t.Errorf("secret.example.yaml: taskflow-db key %s logs in as the owner %s", key, user)
		}
	}
	roleOf(migrateKey)
	for _, d := range ofKind(docs, "Deployment") {
		var dep deployment
		d.decode(t, &dep)
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				roleOf(e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		for _, m := range c.Spec.Metadata {
			if m.SecretKeyRef != nil && m.SecretKeyRef.Name == "taskflow-db" {
				roleOf(m.SecretKeyRef.Key)
			}
		}
	}
	if !slices.Contains(r.envReads["api"], "DB_MIGRATE") {
		t.Errorf("cmd/api does not read DB_MIGRATE: the apps would migrate as their own roles")
	}
}

// productionDBHost is the read-write Service of production's CloudNativePG
// cluster (overlays/production/postgres.yaml), the host of its URLs.
const productionDBHost = "taskflow-db-rw"

var exampleURL = regexp.MustCompile(`postgres(?:ql)?://[^\s'"]+`)

// TestProductionDatabaseTLS: the production URLs that secret.example.yaml and
// k8s/README.md document verify the server (sslmode=verify-full, with the
// CA as sslrootcert), and every pod that connects (the apps, the migration
// Job, and the daprd of the app with the actor state store) has that CA
// (CloudNativePG's Secret taskflow-db-ca) mounted where the URLs say.
func TestProductionDatabaseTLS(t *testing.T) {
	t.Parallel()
	var roots []string
	for _, file := range []string{"k8s/base/secret.example.yaml", "k8s/README.md"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, raw := range exampleURL.FindAllString(string(data), -1) {
			u, err := url.Parse(raw)
			if err != nil || !strings.HasPrefix(u.Hostname(), productionDBHost) {
				continue // overlays/local's PostgreSQL, or a placeholder
			}
			n++
			q := u.Query()
			if q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") == "" {
				t.Errorf("%s: %s: want sslmode=verify-full with sslrootcert (the CA of %s)", file, raw, productionDBHost)
				continue
			}
			roots = append(roots, q.Get("sslrootcert"))
		}
		if n == 0 {
			t.Errorf("%s documents no URL of %s", file, productionDBHost)
		}
	}
	slices.Sort(roots)
	if roots = slices.Compact(roots); len(roots) != 1 {
		t.Fatalf("sslrootcert %v: want one path", roots)
	}
	dir := path.Dir(roots[0])

	type mounts struct {
		Spec struct {
			Template struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     struct {
					Volumes []struct {
						Name   string `yaml:"name"`
						Secret *struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
					} `yaml:"volumes"`
					Containers []struct {
						VolumeMounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	docs := resourceDocs(t, "k8s/base", kustomizations(t))
	stateStoreApps := []string{}
	for _, d := range ofKind(docs, "Component") {
		var c component
		d.decode(t, &c)
		for _, m := range c.Spec.Metadata {
			if m.SecretKeyRef != nil && m.SecretKeyRef.Name == "taskflow-db" {
				stateStoreApps = append(stateStoreApps, c.Scopes...)
			}
		}
	}
	for _, d := range append(ofKind(docs, "Deployment"), ofKind(docs, "Job")...) {
		var m mounts
		d.decode(t, &m)
		pod := m.Spec.Template.Spec
		vol := ""
		for _, v := range pod.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "taskflow-db-ca" {
				vol = v.Name
			}
		}
		if vol == "" {
			t.Errorf("%s: no volume of the Secret taskflow-db-ca", d)
			continue
		}
		for _, c := range pod.Containers {
			if !slices.ContainsFunc(c.VolumeMounts, func(vm struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			}) bool {
				return vm.Name == vol && path.Clean(vm.MountPath) == dir
			}) {
				t.Errorf("%s: does not mount %s at %s (sslrootcert %s)", d, vol, dir, roots[0])
			}
		}
		id := m.Spec.Template.Metadata.Annotations["dapr.io/app-id"]
		if slices.Contains(stateStoreApps, id) {
			want := vol + ":" + dir
			if !slices.Contains(strings.Split(m.Spec.Template.Metadata.Annotations["dapr.io/volume-mounts"], ","), want) {
				t.Errorf("%s: daprd connects to PostgreSQL (actor state store) but dapr.io/volume-mounts lacks %q", d, want)
			}
		}
	}
}

// TestMainEnvIsRead keeps mainEnv honest: platform's tracing set-up reads
// each of those names.
func TestMainEnvIsRead(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "internal", "platform", "tracing.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mainEnv {
		if !bytes.Contains(src, []byte(strconv.Quote(name))) {
			t.Errorf("%s is in mainEnv but internal/platform/tracing.go does not read it", name)
		}
	}
}
