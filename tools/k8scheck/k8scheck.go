// Package k8scheck validates TaskFlow's Kubernetes manifests and its Docker
// Compose file without a cluster: it renders every kustomize overlay with
// the kustomize library (what `kubectl apply -k` runs) and decodes each object
// strictly, into its Go type for Kubernetes' built-in kinds, and against the
// CRD's OpenAPI schema for Dapr's resources and the operators' kinds (Strimzi,
// CloudNativePG, Prometheus Operator). An unknown field or a wrong
// type fails, as the API server would refuse (or silently drop) it.
//
// It is a module of its own so that kustomize, k8s.io/* and compose-go stay
// out of the apps' go.mod; `make test-k8s` runs its tests.
package k8scheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered manifest, as JSON.
type Object struct {
	Source    string // where it came from, for messages
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	JSON      []byte
}

func (o Object) String() string {
	return fmt.Sprintf("%s: %s %s/%s", o.Source, o.GVK.Kind, o.Namespace, o.Name)
}

// renderMu serialises kustomize runs: kyaml's openapi package parses its
// built-in schema into package state on first use without a lock, which
// the race detector caught when two overlays rendered at once.
var renderMu sync.Mutex

// Render builds the kustomization in dir as `kubectl apply -k dir` would.
// Safe for concurrent use.
func Render(dir string) ([]Object, error) {
	renderMu.Lock()
	defer renderMu.Unlock()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		objs, err := ParseYAML(dir+" (rendered)", y)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// ParseYAML splits a multi-document YAML stream into Objects. Duplicate keys
// are an error (sigs.k8s.io/yaml's strict conversion).
func ParseYAML(source string, data []byte) ([]Object, error) {
	var out []Object
	for i, d := range splitDocuments(data) {
		j, err := yaml.YAMLToJSONStrict(d)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // comments only
		}
		var h struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := utiljson.Unmarshal(j, &h); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		out = append(out, Object{
			Source: source, GVK: schema.FromAPIVersionAndKind(h.APIVersion, h.Kind),
			Name: h.Metadata.Name, Namespace: h.Metadata.Namespace, JSON: j,
		})
	}
	return out, nil
}

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for line := range strings.SplitAfterSeq(string(data), "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.Bytes())
}

// Validator decodes objects strictly: typed kinds into their Go types, CRD
// kinds against their schemas.
type Validator struct {
	scheme *runtime.Scheme
	crds   map[schema.GroupVersionKind]crdVersion
}

type crdVersion struct {
	file       string
	structural *structuralschema.Structural
	validator  *validate.SchemaValidator
}

// NewValidator knows Kubernetes' built-in kinds TaskFlow uses and the CRDs in
// crdDir (Dapr's Component, Configuration and Subscription among them: their
// CRD schemas rather than github.com/dapr/dapr's Go types, whose package
// compiles client-go into this module).
func NewValidator(crdDir string) (*Validator, error) {
	v := &Validator{scheme: runtime.NewScheme(), crds: map[schema.GroupVersionKind]crdVersion{}}
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme,
	} {
		if err := add(v.scheme); err != nil {
			return nil, err
		}
	}
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("%s: no CRDs (%v)", crdDir, err)
	}
	for _, f := range files {
		if err := v.addCRD(f); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *Validator) addCRD(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := strictUnmarshal(j, &crd); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, ver := range crd.Spec.Versions {
		if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
			return fmt.Errorf("%s: version %s has no schema", file, ver.Name)
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		s, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", file, ver.Name, err)
		}
		if errs := structuralschema.ValidateStructural(nil, s); len(errs) > 0 {
			return fmt.Errorf("%s: %s: not a structural schema: %w", file, ver.Name, errs.ToAggregate())
		}
		// The OpenAPI validation the API server runs on a custom resource,
		// formats as it strips them. (Not through apiextensions'
		// validation package, which compiles CEL into this module for
		// x-kubernetes-validations rules that none of these CRDs has.)
		openapi := s.ToKubeOpenAPI()
		stripUnsupportedFormats(openapi)
		sv := validate.NewSchemaValidator(openapi, nil, "", strfmt.Default)
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
		v.crds[gvk] = crdVersion{file: filepath.Base(file), structural: s, validator: sv}
	}
	return nil
}

// Validate decodes o strictly; it fails on unknown kinds too.
func (v *Validator) Validate(o Object) error {
	if crd, ok := v.crds[o.GVK]; ok {
		return crd.validate(o)
	}
	typed, err := v.scheme.New(o.GVK)
	if err != nil {
		return fmt.Errorf("%s: no Go type or CRD schema known for %s", o, o.GVK)
	}
	if err := strictUnmarshal(o.JSON, typed); err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	return nil
}

func (c crdVersion) validate(o Object) error {
	var obj map[string]any
	if err := utiljson.Unmarshal(o.JSON, &obj); err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	var errs []error
	if res := c.validator.Validate(obj); !res.IsValid() {
		errs = append(errs, res.Errors...)
	}
	// What the API server would prune: fields the schema does not know.
	unknown := pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	sort.Strings(unknown)
	for _, p := range unknown {
		errs = append(errs, fmt.Errorf("unknown field %q", p))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s (schema %s): %w", o, c.file, err)
	}
	return nil
}

// stripUnsupportedFormats clears the formats the API server does not check,
// as apiextensions-apiserver's StripUnsupportedFormatsPostProcessor does
// (Kubernetes 1.34's list): an unknown format is any value to the server.
func stripUnsupportedFormats(s *spec.Schema) {
	if s == nil {
		return
	}
	if s.Format != "" {
		typ := ""
		if len(s.Type) == 1 {
			typ = s.Type[0]
		}
		switch typ {
		case "", "string":
			if !supportedStringFormats[strings.ReplaceAll(s.Format, "-", "")] {
				s.Format = ""
			}
		case "integer":
			if s.Format != "int32" && s.Format != "int64" {
				s.Format = ""
			}
		case "number":
			if s.Format != "float" && s.Format != "double" {
				s.Format = ""
			}
		default:
			s.Format = ""
		}
	}
	for k, p := range s.Properties {
		stripUnsupportedFormats(&p)
		s.Properties[k] = p
	}
	if s.Items != nil {
		stripUnsupportedFormats(s.Items.Schema)
		for i := range s.Items.Schemas {
			stripUnsupportedFormats(&s.Items.Schemas[i])
		}
	}
	if s.AdditionalProperties != nil {
		stripUnsupportedFormats(s.AdditionalProperties.Schema)
	}
	for _, list := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			stripUnsupportedFormats(&list[i])
		}
	}
	stripUnsupportedFormats(s.Not)
}

var supportedStringFormats = map[string]bool{
	"bsonobjectid": true, "uri": true, "email": true, "hostname": true, "ipv4": true, "ipv6": true,
	"cidr": true, "mac": true, "uuid": true, "uuid3": true, "uuid4": true, "uuid5": true, "isbn": true,
	"isbn10": true, "isbn13": true, "creditcard": true, "ssn": true, "hexcolor": true, "rgbcolor": true,
	"byte": true, "password": true, "date": true, "duration": true, "datetime": true,
	"k8sshortname": true, "k8slongname": true,
}

// strictUnmarshal decodes JSON into v, refusing unknown and duplicate fields
// and case-insensitive matches (sigs.k8s.io/json, the API server's decoder).
func strictUnmarshal(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}
