package okta

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoSecretInErrors drives every call into every kind of failure, with a
// server that echoes the whole request (Authorization header and body) back
// into Okta's error fields, and fails if any secret shows up in an error's
// text or its printed forms.
func TestNoSecretInErrors(t *testing.T) {
	secrets := []string{testToken, secOld, secNew, secCur, secAnswer}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		b, _ := io.ReadAll(r.Body)
		all := r.Header.Get("Authorization") + " " + string(b) + " " + r.URL.String()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"errorCode": "E0000001", "errorSummary": "Api validation failed: " + all, "errorId": all,
			"errorCauses": []map[string]string{{"errorSummary": all}},
		})
	}
	servers := map[string]http.HandlerFunc{
		"echoing 400": func(w http.ResponseWriter, r *http.Request) { echo(w, r, 400) },
		"echoing 401": func(w http.ResponseWriter, r *http.Request) { echo(w, r, 401) },
		"echoing 500, not JSON": func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(500)
			_, _ = fmt.Fprintf(w, "<html>%s %s</html>", r.Header.Get("Authorization"), b)
		},
		"echoing 200, not JSON": func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(200)
			_, _ = fmt.Fprintf(w, "%s %s", r.Header.Get("Authorization"), b)
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leave
			select {
			case <-r.Context().Done():
			case <-done:
			}
		},
	}
	for name, h := range servers {
		srv := serve(t, h)
		c := newClient(t, srv.URL, AuthSSWS, 100*time.Millisecond)
		if name != "slow" {
			c.timeout = 10 * time.Second
		}
		for _, call := range allCalls("00u1") {
			t.Run(name+"/"+call.name, func(t *testing.T) {
				_, err := call.do(testCtx(t), c, CallOptions{})
				if err == nil {
					t.Fatal("no error")
				}
				for i, form := range []string{err.Error(), fmt.Sprintf("%v|%+v|%#v|%q", err, err, err, err)} {
					for j, s := range secrets {
						if strings.Contains(form, s) {
							t.Errorf("secret #%d leaked into error form #%d", j, i)
						}
					}
				}
			})
		}
	}
	// The same for a dropped connection.
	base, _ := rawServer(t, func(rawRequest) string { return "" })
	c := newClient(t, base, AuthBearer, 0)
	for _, call := range allCalls("00u1") {
		_, err := call.do(testCtx(t), c, CallOptions{})
		for _, s := range secrets {
			if err == nil || strings.Contains(fmt.Sprintf("%v %#v", err, err), s) {
				t.Errorf("%s: dropped connection: error %v", call.name, err)
			}
		}
	}
}
