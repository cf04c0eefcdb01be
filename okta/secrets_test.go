package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/credbatch/credbatch/internal/secret"
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

// Secrets holding every character that JSON or URL encoding spells
// differently, and non-ASCII ones.
const (
	hostileToken  = `tok-"\<&%+é日本>-0123456789`
	hostileAccess = `at-"\<&%+ é日本>-abcdef`
	hostileOld    = `Old "Pa\ss" <&> 100% + é日本`
	hostileNew    = `New\"Pa<ss>&%2B+ 日本é`
	hostileCur    = `Cur%20 "x"\\ <b>&amp; é`
	hostileAnswer = `Answer \u00e9 "Oak" <&> 100%+ 日本`
)

// jsonText is s as encoding/json writes it inside a string, with or
// without HTML escapes.
func jsonText(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// asciiJSONText is s JSON-escaped with every non-ASCII character as \uXXXX,
// as servers that write ASCII only do.
func asciiJSONText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r > 0x7e:
			for _, c := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var upperHex = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerHex(s string) string { return upperHex.ReplaceAllStringFunc(s, strings.ToLower) }

// spellingsOf are the forms in which a secret must not appear.
func spellingsOf(s string) map[string]string {
	return map[string]string{
		"raw": s, "JSON": jsonText(s, true), "JSON without HTML escapes": jsonText(s, false),
		"ASCII JSON": asciiJSONText(s), "ASCII JSON, upper hex": strings.ToUpper(asciiJSONText(s)),
		"query": url.QueryEscape(s), "query, lower hex": lowerHex(url.QueryEscape(s)),
		"path": url.PathEscape(s), "path, lower hex": lowerHex(url.PathEscape(s)),
		"JSON in a query": url.QueryEscape(jsonText(s, false)), "JSON twice": jsonText(jsonText(s, false), true),
	}
}

// echoes are the ways a hostile server sends back what it saw.
func echoes(seen string) []string {
	return []string{seen, url.QueryEscape(seen), lowerHex(url.QueryEscape(seen)), url.PathEscape(seen),
		lowerHex(url.PathEscape(seen)), `"` + jsonText(seen, true) + `"`, asciiJSONText(seen)}
}

// hostileOkta answers every API request with status and an Okta error that
// echoes the request (Authorization header, URL and body) in every field,
// in every spelling of echoes, and in X-Okta-Request-Id.
func hostileOkta(w http.ResponseWriter, r *http.Request, status int) {
	body, _ := io.ReadAll(r.Body)
	seen := r.Header.Get("Authorization") + " " + r.URL.String() + " " + string(body)
	forms := echoes(seen)
	var causes []map[string]string
	for _, f := range forms {
		causes = append(causes, map[string]string{"errorSummary": "Bad value: " + f})
	}
	w.Header().Set("X-Okta-Request-Id", url.PathEscape(seen))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode": seen, "errorSummary": "Api validation failed: " + strings.Join(forms, " | "),
		"errorLink": url.QueryEscape(seen), "errorId": asciiJSONText(seen), "errorCauses": causes,
		"id": "00u1", "status": seen, "profile": map[string]string{"login": url.QueryEscape(seen)},
	})
}

// noSecret fails the test when text holds a secret in any spelling; it
// names the secret by its index, never by its value.
func noSecret(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for i, s := range secrets {
		for name, form := range spellingsOf(s) {
			if strings.Contains(text, form) {
				t.Errorf("%s: secret #%d in its %s spelling", where, i, name)
			}
		}
	}
}

// TestHostileServerEchoes: a server that echoes each request in every
// spelling into every field of its error, and into the status and login of a
// success, through the real client over loopback. No secret the request
// carried (token, passwords, answers; in PrivateKey mode the access token
// and the client assertion) is left, in any spelling, in the error's text,
// its fields, the success's fields, or anything logged meanwhile.
func TestHostileServerEchoes(t *testing.T) {
	var logs bytes.Buffer
	defer log.SetOutput(log.Writer())
	defer log.SetFlags(log.Flags())
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.SetOutput(&logs)

	secrets := []string{hostileToken, hostileOld, hostileNew, hostileCur, hostileAnswer, hostileAccess}
	calls := allCallsWith("00u1", hostileOld, hostileNew, hostileCur, hostileAnswer)
	check := func(t *testing.T, err error) {
		t.Helper()
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("got %T, want an APIError", err)
		}
		noSecret(t, "the error's forms", fmt.Sprintf("%s|%v|%+v|%#v|%q", err.Error(), err, err, err, err), secrets)
		fields := append([]string{ae.Code, ae.Summary, ae.Link, ae.ID, ae.RequestID}, ae.Causes...)
		noSecret(t, "the APIError's fields", strings.Join(fields, "|"), secrets)
		if !strings.Contains(ae.Summary, secret.Redacted) || !strings.Contains(ae.Code, secret.Redacted) || len(ae.Causes) != len(echoes("")) {
			t.Errorf("the echo was not seen: summary redacted %v, code redacted %v, %d causes",
				strings.Contains(ae.Summary, secret.Redacted), strings.Contains(ae.Code, secret.Redacted), len(ae.Causes))
		}
		for i, c := range ae.Causes {
			if !strings.Contains(c, secret.Redacted) {
				t.Errorf("cause %d: nothing redacted", i)
			}
		}
	}
	for _, mode := range []AuthMode{AuthSSWS, AuthBearer} {
		for _, status := range []int{400, 401, 403, 500} {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hostileOkta(w, r, status) })
			c, err := New(Config{OrgURL: srv.URL, Token: tok(hostileToken), AuthMode: mode, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for _, call := range calls {
				t.Run(fmt.Sprintf("%s/%d/%s", mode, status, call.name), func(t *testing.T) {
					_, err := call.do(testCtx(t), c, CallOptions{})
					check(t, err)
				})
			}
		}
	}
	t.Run("PrivateKey", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == TokenPath {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"access_token": hostileAccess, "token_type": "Bearer", "expires_in": 3600})
				return
			}
			hostileOkta(w, r, 400)
		})
		c, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
			PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem")), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range calls {
			_, err := call.do(testCtx(t), c, CallOptions{})
			check(t, err)
		}
	})
	t.Run("PrivateKey, the token endpoint echoes", func(t *testing.T) {
		var assertion string
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			assertion = form.Get("client_assertion")
			w.Header().Set("X-Okta-Request-Id", string(body))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": string(body), "error_description": strings.Join(echoes(string(body)), " | ")})
		})
		c, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
			PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem")), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
		var ae *APIError
		if !errors.As(err, &ae) || assertion == "" || !strings.Contains(ae.Summary, secret.Redacted) {
			t.Fatalf("got %T (assertion seen: %v)", err, assertion != "")
		}
		noSecret(t, "the token request's error", fmt.Sprintf("%v|%#v|%s|%s|%s", err, err, ae.Code, ae.Summary, ae.RequestID), []string{assertion})
	})
	t.Run("a success", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hostileOkta(w, r, 200) })
		c, err := New(Config{OrgURL: srv.URL, Token: tok(hostileToken), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range calls {
			r, err := call.do(testCtx(t), c, CallOptions{})
			if call.name == "expire_password_with_temp_password" {
				noSecret(t, call.name, fmt.Sprint(err), secrets)
				continue // no tempPassword: an error
			}
			if err != nil {
				t.Fatalf("%s: %T", call.name, err)
			}
			text := r.RequestID + "|" + r.UserStatus
			if r.User != nil {
				text += "|" + r.User.Login + "|" + r.User.Status
			}
			noSecret(t, call.name+": the answer's fields", text, secrets)
			if !strings.Contains(r.UserStatus, secret.Redacted) || !strings.Contains(r.RequestID, secret.Redacted) {
				t.Errorf("%s: the status or the request ID was not redacted", call.name)
			}
			if call.name == "get_user" && (r.User == nil || !strings.Contains(r.User.Login, secret.Redacted)) {
				t.Errorf("get_user: the login was not redacted")
			}
		}
	})
	noSecret(t, "the logs", logs.String(), secrets)
}
