package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	esbuild "github.com/evanw/esbuild/pkg/api"
	"github.com/gofiber/fiber/v2"
)

// The web app's sources: TypeScript under web/src, bundled when the API
// starts (esbuild's Go API: no Node, nothing generated in the tree), and
// served with the page and its stylesheet from this binary.
//
//go:embed web/index.html web/app.css web/src/*.ts
var webFiles embed.FS

// webApp is the bundled web app.
type webApp struct {
	page            []byte
	js, css         []byte
	jsPath, cssPath string
	csp             string
}

// buildWeb bundles the web app. The asset URLs carry a hash of their
// content, so browsers may cache them for good.
func buildWeb(cfg WebConfig) (*webApp, error) {
	result := esbuild.Build(esbuild.BuildOptions{
		EntryPoints:       []string{"web/src/main.ts"},
		Bundle:            true,
		Outfile:           "app.js",
		Write:             false,
		Format:            esbuild.FormatIIFE,
		Target:            esbuild.ES2020,
		Charset:           esbuild.CharsetUTF8,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		LogLevel:          esbuild.LogLevelSilent,
		Plugins:           []esbuild.Plugin{embedded(webFiles)},
	})
	if len(result.Errors) > 0 {
		msgs := make([]string, 0, len(result.Errors))
		for _, m := range result.Errors {
			loc := ""
			if m.Location != nil {
				loc = fmt.Sprintf("%s:%d:%d: ", m.Location.File, m.Location.Line, m.Location.Column)
			}
			msgs = append(msgs, loc+m.Text)
		}
		return nil, fmt.Errorf("bundle the web app: %s", strings.Join(msgs, "; "))
	}
	if len(result.OutputFiles) != 1 {
		return nil, errors.New("bundle the web app: no output")
	}
	css, err := webFiles.ReadFile("web/app.css")
	if err != nil {
		return nil, err
	}
	page, err := webFiles.ReadFile("web/index.html")
	if err != nil {
		return nil, err
	}
	w := &webApp{js: result.OutputFiles[0].Contents, css: css}
	w.jsPath = "/assets/app." + short(w.js) + ".js"
	w.cssPath = "/assets/app." + short(w.css) + ".css"
	w.page = []byte(strings.NewReplacer("{{js}}", w.jsPath, "{{css}}", w.cssPath).Replace(string(page)))
	connect := []string{"'self'"}
	for _, u := range []string{cfg.NotificationsURL, cfg.AuditURL} {
		if o := origin(u); o != "" {
			connect = append(connect, o)
		}
	}
	w.csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + strings.Join(connect, " ") +
		"; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return w, nil
}

func short(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// origin returns scheme://host[:port] of u, or "" when u is not absolute.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// embedded lets esbuild read the sources from fsys: imports resolve
// relative to their importer, ".ts" implied.
func embedded(fsys fs.FS) esbuild.Plugin {
	return esbuild.Plugin{Name: "embedded", Setup: func(b esbuild.PluginBuild) {
		b.OnResolve(esbuild.OnResolveOptions{Filter: `.*`}, func(args esbuild.OnResolveArgs) (esbuild.OnResolveResult, error) {
			p := args.Path
			if args.Kind != esbuild.ResolveEntryPoint {
				p = path.Join(path.Dir(args.Importer), args.Path)
			}
			if p = path.Clean(p); path.Ext(p) == "" {
				p += ".ts"
			}
			return esbuild.OnResolveResult{Path: p, Namespace: "embedded"}, nil
		})
		b.OnLoad(esbuild.OnLoadOptions{Filter: `.*`, Namespace: "embedded"}, func(args esbuild.OnLoadArgs) (esbuild.OnLoadResult, error) {
			src, err := fs.ReadFile(fsys, args.Path)
			if err != nil {
				return esbuild.OnLoadResult{}, err
			}
			s := string(src)
			return esbuild.OnLoadResult{Contents: &s, Loader: esbuild.LoaderTS}, nil
		})
	}}
}

// routes serves the page and its assets.
func (w *webApp) routes(app *fiber.App) {
	page := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("Content-Security-Policy", w.csp)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "no-referrer")
		return c.Send(w.page)
	}
	app.Get("/", page)
	app.Get("/ops", page) // the ops view: the same page, which shows it at this path
	asset := func(body []byte, ctype string) fiber.Handler {
		return func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, ctype)
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			c.Set("X-Content-Type-Options", "nosniff")
			return c.Send(body)
		}
	}
	app.Get(w.jsPath, asset(w.js, "text/javascript; charset=utf-8"))
	app.Get(w.cssPath, asset(w.css, "text/css; charset=utf-8"))
}
