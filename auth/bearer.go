package auth

import "strings"

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (RFC 6750 §2.1). The scheme is matched
// case-insensitively and surrounding spaces are trimmed. It reports false
// when the scheme is not Bearer or the token is empty.
func BearerToken(authorizationHeader string) (string, bool) {
	const scheme = "bearer"
	h := strings.TrimSpace(authorizationHeader)
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	rest := h[len(scheme):]
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	token := strings.TrimSpace(rest)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
