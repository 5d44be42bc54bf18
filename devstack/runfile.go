package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LogDestination is where the Dapr CLI sends a process's output:
// "file", "console" or "fileAndConsole".
type LogDestination string

// The log destinations of the Dapr CLI's run file.
const (
	LogToFile           LogDestination = "file"
	LogToConsole        LogDestination = "console"
	LogToFileAndConsole LogDestination = "fileAndConsole"
)

func (d LogDestination) valid() bool {
	return d == LogToFile || d == LogToConsole || d == LogToFileAndConsole
}

// toConsole reports whether output with this destination belongs on a console.
func (d LogDestination) toConsole() bool {
	return d == LogToConsole || d == LogToFileAndConsole
}

// RunFile is a parsed and resolved Dapr multi-app run template (the file
// `dapr run -f` reads). Its apps already carry the common settings under their
// own, and every path in it is absolute.
type RunFile struct {
	Path    string      // absolute path of the file
	Version int         // always 1
	Name    string      // optional name of the template
	Apps    []AppConfig // in file order
}

// App returns the app with the given ID.
func (r *RunFile) App(appID string) (AppConfig, bool) {
	for _, a := range r.Apps {
		if a.AppID == appID {
			return a, true
		}
	}
	return AppConfig{}, false
}

// AppConfig is one app of a run file with the common section applied: a value
// set on the app wins over the common one, env maps merge key by key (app
// wins). Ports are 0 when the file leaves them unset.
type AppConfig struct {
	AppID      string
	AppDirPath string   // absolute; the app's working directory
	Command    []string // empty: only the sidecar runs

	AppPort              int
	DaprHTTPPort         int
	DaprGRPCPort         int
	DaprInternalGRPCPort int
	MetricsPort          int
	ProfilePort          int
	AppChannelAddress    string

	ResourcesPaths         []string // absolute
	ConfigFilePath         string   // absolute, or empty
	AppProtocol            string   // http unless set
	APIListenAddresses     string
	EnableProfiling        bool
	LogLevel               string
	AppMaxConcurrency      int    // -1: unlimited (unset)
	PlacementHostAddress   string // empty: no actors
	SchedulerHostAddress   string // empty: no scheduler
	MaxBodySize            string // resource quantity such as "4Mi"
	ReadBufferSize         string // resource quantity such as "4Ki"
	EnableAppHealthCheck   bool
	AppHealthCheckPath     string
	AppHealthProbeInterval int // seconds
	AppHealthProbeTimeout  int // milliseconds
	AppHealthThreshold     int
	EnableAPILogging       bool
	Env                    map[string]string

	DaprdLogDestination LogDestination // default file
	AppLogDestination   LogDestination // default fileAndConsole
}

// sharedYAML is what the Dapr CLI calls SharedRunConfig: the keys allowed
// both in `common` and in each app. Pointers tell "unset" from false or 0 so
// that an app can switch off what common switches on.
type sharedYAML struct {
	ResourcesPath          string            `yaml:"resourcesPath"`
	ResourcesPaths         []string          `yaml:"resourcesPaths"`
	ConfigFilePath         string            `yaml:"configFilePath"`
	AppProtocol            string            `yaml:"appProtocol"`
	APIListenAddresses     string            `yaml:"apiListenAddresses"`
	EnableProfiling        *bool             `yaml:"enableProfiling"`
	LogLevel               string            `yaml:"logLevel"`
	AppMaxConcurrency      *int              `yaml:"appMaxConcurrency"`
	PlacementHostAddress   *string           `yaml:"placementHostAddress"`
	SchedulerHostAddress   *string           `yaml:"schedulerHostAddress"`
	AppSSL                 *bool             `yaml:"appSSL"`
	MaxBodySize            string            `yaml:"maxBodySize"`
	ReadBufferSize         string            `yaml:"readBufferSize"`
	EnableAppHealthCheck   *bool             `yaml:"enableAppHealthCheck"`
	AppHealthCheckPath     string            `yaml:"appHealthCheckPath"`
	AppHealthProbeInterval *int              `yaml:"appHealthProbeInterval"`
	AppHealthProbeTimeout  *int              `yaml:"appHealthProbeTimeout"`
	AppHealthThreshold     *int              `yaml:"appHealthThreshold"`
	EnableAPILogging       *bool             `yaml:"enableApiLogging"`
	RuntimePath            string            `yaml:"runtimePath"`
	Env                    map[string]string `yaml:"env"`
	DaprdLogDestination    LogDestination    `yaml:"daprdLogDestination"`
	AppLogDestination      LogDestination    `yaml:"appLogDestination"`
}

type appYAML struct {
	sharedYAML           `yaml:",inline"`
	AppID                string   `yaml:"appID"`
	AppDirPath           string   `yaml:"appDirPath"`
	AppChannelAddress    string   `yaml:"appChannelAddress"`
	AppPort              int      `yaml:"appPort"`
	DaprHTTPPort         int      `yaml:"daprHTTPPort"`
	DaprGRPCPort         int      `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort int      `yaml:"daprInternalGRPCPort"`
	MetricsPort          int      `yaml:"metricsPort"`
	ProfilePort          int      `yaml:"profilePort"`
	UnixDomainSocket     string   `yaml:"unixDomainSocket"`
	Command              []string `yaml:"command"`
}

type runFileYAML struct {
	Version int        `yaml:"version"`
	Name    string     `yaml:"name"`
	Common  sharedYAML `yaml:"common"`
	Apps    []appYAML  `yaml:"apps"`
}

// LoadRunFile reads and resolves the run file at path. See ParseRunFile.
func LoadRunFile(path string) (*RunFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("run file %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read run file: %w", err)
	}
	return ParseRunFile(abs, data)
}

// ParseRunFile parses a run file's contents as the Dapr CLI does. Relative
// paths (appDirPath, resourcesPath(s), configFilePath) are taken relative to
// the directory of path, which must exist together with every path they name.
// Unknown keys, an unknown version, duplicate app IDs and duplicate ports are
// errors, all reported at once.
func ParseRunFile(path string, data []byte) (*RunFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("run file %s: %w", path, err)
	}
	var raw runFileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("run file %s: %w", abs, err)
	}
	rf, err := resolveRunFile(abs, raw)
	if err != nil {
		return nil, fmt.Errorf("run file %s: %w", abs, err)
	}
	return rf, nil
}

func resolveRunFile(path string, raw runFileYAML) (*RunFile, error) {
	var errs []error
	if raw.Version != 1 {
		errs = append(errs, fmt.Errorf("version %d is not supported (want 1)", raw.Version))
	}
	if len(raw.Apps) == 0 {
		errs = append(errs, errors.New("no apps"))
	}
	baseDir := filepath.Dir(path)
	rf := &RunFile{Path: path, Version: raw.Version, Name: raw.Name}
	ids := map[string]bool{}
	ports := map[int]string{}
	for i, a := range raw.Apps {
		app, appErrs := resolveApp(baseDir, raw.Common, a)
		where := fmt.Sprintf("apps[%d]", i)
		if app.AppID != "" {
			where += " (" + app.AppID + ")"
		}
		for _, e := range appErrs {
			errs = append(errs, fmt.Errorf("%s: %w", where, e))
		}
		if app.AppID != "" {
			if ids[app.AppID] {
				errs = append(errs, fmt.Errorf("%s: duplicate appID", where))
			}
			ids[app.AppID] = true
		}
		for _, p := range []struct {
			key  string
			port int
		}{
			{"appPort", app.AppPort}, {"daprHTTPPort", app.DaprHTTPPort}, {"daprGRPCPort", app.DaprGRPCPort},
			{"daprInternalGRPCPort", app.DaprInternalGRPCPort}, {"metricsPort", app.MetricsPort},
		} {
			if p.port == 0 {
				continue
			}
			if p.port < 0 || p.port > 65535 {
				errs = append(errs, fmt.Errorf("%s: %s %d out of range", where, p.key, p.port))
				continue
			}
			if prev, ok := ports[p.port]; ok {
				errs = append(errs, fmt.Errorf("%s: %s %d already used as %s", where, p.key, p.port, prev))
				continue
			}
			ports[p.port] = app.AppID + " " + p.key
		}
		rf.Apps = append(rf.Apps, app)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rf, nil
}

// resolveApp merges common into a and resolves its paths against baseDir.
func resolveApp(baseDir string, common sharedYAML, a appYAML) (AppConfig, []error) {
	var errs []error
	s := a.sharedYAML
	app := AppConfig{
		AppID:                a.AppID,
		Command:              a.Command,
		AppPort:              a.AppPort,
		DaprHTTPPort:         a.DaprHTTPPort,
		DaprGRPCPort:         a.DaprGRPCPort,
		DaprInternalGRPCPort: a.DaprInternalGRPCPort,
		MetricsPort:          a.MetricsPort,
		ProfilePort:          a.ProfilePort,
		AppChannelAddress:    a.AppChannelAddress,

		AppProtocol:            firstNonEmpty(s.AppProtocol, common.AppProtocol, "http"),
		APIListenAddresses:     firstNonEmpty(s.APIListenAddresses, common.APIListenAddresses),
		EnableProfiling:        pick(s.EnableProfiling, common.EnableProfiling, false),
		LogLevel:               firstNonEmpty(s.LogLevel, common.LogLevel),
		AppMaxConcurrency:      pick(s.AppMaxConcurrency, common.AppMaxConcurrency, -1),
		PlacementHostAddress:   pick(s.PlacementHostAddress, common.PlacementHostAddress, ""),
		SchedulerHostAddress:   pick(s.SchedulerHostAddress, common.SchedulerHostAddress, ""),
		MaxBodySize:            firstNonEmpty(s.MaxBodySize, common.MaxBodySize),
		ReadBufferSize:         firstNonEmpty(s.ReadBufferSize, common.ReadBufferSize),
		EnableAppHealthCheck:   pick(s.EnableAppHealthCheck, common.EnableAppHealthCheck, false),
		AppHealthCheckPath:     firstNonEmpty(s.AppHealthCheckPath, common.AppHealthCheckPath),
		AppHealthProbeInterval: pick(s.AppHealthProbeInterval, common.AppHealthProbeInterval, 0),
		AppHealthProbeTimeout:  pick(s.AppHealthProbeTimeout, common.AppHealthProbeTimeout, 0),
		AppHealthThreshold:     pick(s.AppHealthThreshold, common.AppHealthThreshold, 0),
		EnableAPILogging:       pick(s.EnableAPILogging, common.EnableAPILogging, false),
		DaprdLogDestination:    LogDestination(firstNonEmpty(string(s.DaprdLogDestination), string(common.DaprdLogDestination), string(LogToFile))),
		AppLogDestination:      LogDestination(firstNonEmpty(string(s.AppLogDestination), string(common.AppLogDestination), string(LogToFileAndConsole))),
	}
	if pick(s.AppSSL, common.AppSSL, false) && app.AppProtocol == "http" {
		app.AppProtocol = "https" // what the CLI does with the deprecated appSSL
	}
	if len(common.Env)+len(s.Env) > 0 {
		app.Env = make(map[string]string, len(common.Env)+len(s.Env))
		for k, v := range common.Env {
			app.Env[k] = v
		}
		for k, v := range s.Env {
			app.Env[k] = v
		}
	}

	if a.AppDirPath == "" {
		errs = append(errs, errors.New("appDirPath is required"))
	} else {
		dir, err := resolvePath(baseDir, a.AppDirPath)
		if err == nil {
			err = mustBeDir(dir)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("appDirPath: %w", err))
		}
		app.AppDirPath = dir
	}
	if app.AppID == "" && app.AppDirPath != "" {
		app.AppID = filepath.Base(app.AppDirPath) // as the CLI does
	}

	// Resources: the app's own paths replace common's; without any, the CLI
	// looks in <appDirPath>/.dapr/resources.
	resources := resourcePaths(s)
	if len(resources) == 0 {
		resources = resourcePaths(common)
	}
	for _, p := range resources {
		abs, err := resolvePath(baseDir, p)
		if err == nil {
			err = mustBeDir(abs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resources path: %w", err))
			continue
		}
		app.ResourcesPaths = append(app.ResourcesPaths, abs)
	}
	if len(resources) == 0 && app.AppDirPath != "" {
		if def := filepath.Join(app.AppDirPath, ".dapr", "resources"); mustBeDir(def) == nil {
			app.ResourcesPaths = []string{def}
		}
	}
	if cfg := firstNonEmpty(s.ConfigFilePath, common.ConfigFilePath); cfg != "" {
		abs, err := resolvePath(baseDir, cfg)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("configFilePath: %w", err))
		}
		app.ConfigFilePath = abs
	} else if app.AppDirPath != "" {
		if def := filepath.Join(app.AppDirPath, ".dapr", "config.yaml"); fileExists(def) {
			app.ConfigFilePath = def
		}
	}

	if a.UnixDomainSocket != "" {
		errs = append(errs, errors.New("unixDomainSocket is not supported by devstack"))
	}
	if firstNonEmpty(s.RuntimePath, common.RuntimePath) != "" {
		errs = append(errs, errors.New("runtimePath is not supported by devstack: set its Dapr binary directory instead"))
	}
	if !app.DaprdLogDestination.valid() {
		errs = append(errs, fmt.Errorf("daprdLogDestination %q: want file, console or fileAndConsole", app.DaprdLogDestination))
	}
	if !app.AppLogDestination.valid() {
		errs = append(errs, fmt.Errorf("appLogDestination %q: want file, console or fileAndConsole", app.AppLogDestination))
	}
	for key, addr := range map[string]string{
		"placementHostAddress": app.PlacementHostAddress,
		"schedulerHostAddress": app.SchedulerHostAddress,
	} {
		if addr == "" {
			continue
		}
		if _, err := localPort(addr, 0); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return app, errs
}

func resourcePaths(s sharedYAML) []string {
	paths := slices.Clone(s.ResourcesPaths)
	if s.ResourcesPath != "" {
		paths = append(paths, s.ResourcesPath)
	}
	return paths
}

// resolvePath expands a leading ~ and makes p absolute against baseDir.
func resolvePath(baseDir, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p), nil
}

func mustBeDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// localPort returns the port of a single host[:port] address on this machine,
// or def when it names no port. devstack starts placement and scheduler
// itself, so it only accepts local hosts.
func localPort(addr string, def int) (int, error) {
	if strings.Contains(addr, ",") {
		return 0, fmt.Errorf("%q: devstack runs a single local instance, not a list", addr)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: "localhost" as the CLI accepts it.
		host, portStr = addr, ""
	}
	switch host {
	case "", "localhost", "127.0.0.1", "::1":
	default:
		return 0, fmt.Errorf("%q: devstack only starts local instances (localhost, 127.0.0.1)", addr)
	}
	if portStr == "" {
		return def, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("%q: bad port", addr)
	}
	return port, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// pick returns the app value if set, else the common value if set, else def.
func pick[T any](app, common *T, def T) T {
	switch {
	case app != nil:
		return *app
	case common != nil:
		return *common
	default:
		return def
	}
}
