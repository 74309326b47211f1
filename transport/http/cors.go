package http

import (
	"net/http"
	"slices"
	"strings"

	"github.com/dancinggopher/micro"
)

// corsMaxAge is how long, in seconds, a browser may cache a preflight's
// answer: two hours, the most Chromium honours.
const corsMaxAge = "7200"

// cors is WithCORS's policy. A nil *cors is CORS off.
type cors struct {
	any     bool
	origins []string
}

func newCORS(origins []string) *cors {
	if len(origins) == 0 {
		return nil
	}
	return &cors{any: slices.Contains(origins, "*"), origins: origins}
}

func (c *cors) allowed(origin string) bool {
	return c.any || slices.Contains(c.origins, origin)
}

// annotate adds CORS's headers to the response to an actual request, and
// reports whether its origin may read the reply.
func (c *cors) annotate(w http.ResponseWriter, r *http.Request) bool {
	if c == nil {
		return false
	}
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return false
	}
	hd := w.Header()
	hd.Add("Vary", "Origin")
	if !c.allowed(origin[0]) {
		return false
	}
	hd["Access-Control-Allow-Origin"] = origin[:1]
	return true
}

// exposeHeaders lets the page read the handler's reply headers.
func exposeHeaders(w http.ResponseWriter, h micro.Header) {
	if len(h) == 0 {
		return
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.Header()["Access-Control-Expose-Headers"] = []string{strings.Join(keys, ", ")}
}

// preflight answers an OPTIONS request to a route: 204 allowing POST and
// the headers asked for to an allowed origin, 403 to another, and 204 with
// Allow to an OPTIONS that is no preflight.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request, h *Handler) {
	hd := w.Header()
	hd["Vary"] = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	origin, method := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	switch {
	case origin == "" || method == "":
		hd["Allow"] = []string{"OPTIONS, POST"}
	case !c.allowed(origin):
		h.writeStatus(w, http.StatusForbidden, micro.Errorf(micro.PermissionDenied, "origin %q is not allowed", origin))
		return
	default:
		hd["Access-Control-Allow-Origin"] = []string{origin}
		hd["Access-Control-Allow-Methods"] = []string{"POST"}
		if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 {
			hd["Access-Control-Allow-Headers"] = []string{strings.Join(asked, ", ")}
		}
		hd["Access-Control-Max-Age"] = []string{corsMaxAge}
	}
	h.write(w, http.StatusNoContent, nil)
}
