package k8scheck_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskflow/taskflow/tools/k8scheck"
)

// repoRoot is the TaskFlow repository as seen from this directory.
const repoRoot = "../.."

func newValidator(tb testing.TB) *k8scheck.Validator {
	tb.Helper()
	v, err := k8scheck.NewValidator("crds")
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// overlays are the kustomize overlays under k8s/overlays.
func overlays(tb testing.TB) []string {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "k8s", "overlays", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		tb.Fatalf("no overlays under k8s/overlays (%v)", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// TestOverlaysDecodeStrictly renders every overlay and decodes each object
// strictly: built-in kinds into their Go types, Dapr's and the operators'
// kinds against their CRD schemas.
func TestOverlaysDecodeStrictly(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	names := []string{}
	for _, dir := range overlays(t) {
		names = append(names, filepath.Base(dir))
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			objs, err := k8scheck.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GVK.Kind]++
				if err := v.Validate(o); err != nil {
					t.Error(err)
				}
			}
			// Every decoder kind is exercised, so none passes vacuously.
			for _, k := range []string{"Deployment", "Job", "Service", "NetworkPolicy", "Component", "Configuration", "KafkaTopic", "Kafka", "KafkaNodePool"} {
				if kinds[k] == 0 {
					t.Errorf("rendered no %s", k)
				}
			}
			t.Logf("%d objects: %v", len(objs), kinds)
		})
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"local", "production"}) {
		t.Errorf("overlays %v, want exactly local and production (README, Makefile and docs name them)", names)
	}
}

// TestProductionHasOperatorResources: the production overlay carries the
// CRD-validated kinds the issue asks for, so their schemas are exercised.
func TestProductionHasOperatorResources(t *testing.T) {
	t.Parallel()
	objs, err := k8scheck.Render(filepath.Join(repoRoot, "k8s", "overlays", "production"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GVK.Group+"/"+o.GVK.Kind] = true
	}
	for _, k := range []string{"kafka.strimzi.io/Kafka", "kafka.strimzi.io/KafkaNodePool", "kafka.strimzi.io/KafkaTopic",
		"kafka.strimzi.io/KafkaUser", "postgresql.cnpg.io/Cluster", "monitoring.coreos.com/ServiceMonitor", "monitoring.coreos.com/PrometheusRule",
		"policy/PodDisruptionBudget", "autoscaling/HorizontalPodAutoscaler", "batch/Job", "networking.k8s.io/NetworkPolicy"} {
		if !kinds[k] {
			t.Errorf("production renders no %s", k)
		}
	}
}

// TestLocalDaprResourcesDecodeStrictly: components/ (what dapr.yaml and the
// Compose file load) decode strictly against Dapr's CRD schemas too.
func TestLocalDaprResourcesDecodeStrictly(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "components", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no components/*.yaml")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := k8scheck.ParseYAML(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := v.Validate(o); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestBrokenManifestsFail: every decoder kind refuses an unknown field and a
// wrong type, so the tests above cannot pass by accepting anything.
func TestBrokenManifestsFail(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	cases := []struct {
		name, yaml, want string
	}{
		{"built-in unknown field", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: x
          image: x
          readinessProbes: {}
`, "readinessProbes"},
		{"built-in wrong type", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: "two"
`, "replicas"},
		{"built-in wrong case", `
apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  Selector: {a: b}
`, "Selector"},
		{"Dapr unknown field", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec:
  type: pubsub.kafka
  version: v1
  metdata: []
`, "metdata"},
		{"Dapr wrong type", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec:
  type: pubsub.kafka
  version: v1
scopes: api
`, "scopes"},
		{"Dapr Configuration unknown field", `
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: x}
spec:
  tracing: {samplingRate: "1", zipkinn: {}}
`, "zipkinn"},
		{"CRD unknown field", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: x}
spec:
  partitions: 3
  replica: 3
`, "spec.replica"},
		{"CRD wrong type", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: x}
spec:
  partitions: "3"
`, "spec.partitions"},
		{"CRD enum", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaNodePool
metadata: {name: x}
spec:
  replicas: 3
  roles: [leader]
  storage: {type: ephemeral}
`, "spec.roles"},
		{"CRD nested unknown field", `
apiVersion: kafka.strimzi.io/v1
kind: Kafka
metadata: {name: x}
spec:
  kafka:
    listeners: [{name: plain, port: 9092, type: internal, tls: false, tsl: true}]
`, "tsl"},
		{"KafkaUser ACL enum", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata: {name: x}
spec:
  authentication: {type: scram-sha-512}
  authorization:
    type: simple
    acls: [{resource: {type: topic, name: t, patternType: prefix}, operations: [Produce]}]
`, "operations"},
		{"KafkaUser unknown field", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata: {name: x}
spec:
  authentication: {type: scram-sha-512}
  authorization:
    type: simple
    acls: [{resource: {type: topic, name: t}, operation: Read, operations: [Read]}]
`, "operation"},
		{"Kafka authorization enum", `
apiVersion: kafka.strimzi.io/v1
kind: Kafka
metadata: {name: x}
spec:
  kafka:
    listeners: [{name: tls, port: 9093, type: internal, tls: true}]
    authorization: {type: acl}
`, "authorization.type"},
		{"CRD required field", `
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: x}
spec:
  storage: {size: 1Gi}
`, "instances"},
		{"ServiceMonitor unknown field", `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: http, paths: /metrics}]
`, "paths"},
		{"PrometheusRule wrong type", `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x}
spec:
  groups: [{name: g, rules: [{alert: A, expr: up == 0, for: soon}]}]
`, "for"},
		{"unknown kind", `
apiVersion: example.com/v1
kind: Widget
metadata: {name: x}
`, "no Go type or CRD schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs, err := k8scheck.ParseYAML(c.name, []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = v.Validate(objs[0])
			if err == nil {
				t.Fatalf("accepted:%s", c.yaml)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}
