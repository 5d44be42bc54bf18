package platform

import (
	"net/http"
	"strings"
)

// CORS lets pages from the allowed origins ("*": any) call next from the
// browser. It is meant for routes authenticated by the Authorization
// header, never by cookies: no credentials are allowed, so "*" exposes
// nothing a page could not already fetch with its own token. Preflight
// requests are answered here.
func CORS(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			for _, o := range origins {
				if o == "*" || o == origin {
					h := w.Header()
					h.Set("Access-Control-Allow-Origin", o)
					h.Set("Access-Control-Allow-Headers", "Authorization, Last-Event-ID, Time-Zone, X-Correlation-ID")
					h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
					h.Set("Access-Control-Expose-Headers", "X-Correlation-ID")
					h.Set("Access-Control-Max-Age", "600")
					h.Add("Vary", "Origin")
					break
				}
			}
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Origins splits a list of origins separated by commas or spaces.
func Origins(s string) []string {
	return strings.Fields(strings.ReplaceAll(s, ",", " "))
}
