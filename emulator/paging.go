package emulator

import (
	"net/http"
	"net/url"
	"strconv"
)

// limitParam reads `limit`: def when absent, at most max (a larger value is
// lowered to max), an integer of at least 1 (else 400 E0000001).
func limitParam(q url.Values, def, max int) (int, *apiError) {
	v, ok := q["limit"]
	if !ok || len(v) == 0 || v[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 1 {
		return 0, errValidation("limit", "must be a whole number of at least 1.")
	}
	return min(n, max), nil
}

// absURL is the absolute URL of r's path with the given raw query.
func (x *exchange) absURL(rawQuery string) string {
	u := x.scheme() + "://" + x.r.Host + x.r.URL.EscapedPath()
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

// pageLinks returns the Link header values of a page: rel="self" (the
// request's own URL) and, when next is not "", rel="next": the same query
// with after=next.
func (x *exchange) pageLinks(next string) []string {
	links := []string{"<" + x.absURL(x.r.URL.RawQuery) + `>; rel="self"`}
	if next != "" {
		q := x.r.URL.Query()
		q.Set("after", next)
		links = append(links, "<"+x.absURL(q.Encode())+`>; rel="next"`)
	}
	return links
}

// setLinks adds the Link headers of a result to the answer.
func setLinks(h http.Header, links []string) {
	for _, l := range links {
		h.Add("Link", l)
	}
}
