package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/credbatch/credbatch/okta"
)

// preflightTimeout bounds the org check: a typo in --org-url or a token
// Okta refuses must end the command within seconds, before any file exists.
const preflightTimeout = 10 * time.Second

// checkOutputPaths refuses, before any file is created, a report or
// checkpoint whose directory is missing or not writable, and a dangling
// symlink at either path (following it would create a file somewhere the
// operator did not name).
func checkOutputPaths(paths ...string) error {
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				target, _ := os.Readlink(p)
				return usagef("remove the link, or choose another --report / --checkpoint",
					"%s is a symbolic link to %s, which does not exist", p, target)
			}
		}
		dir := filepath.Dir(p)
		fi, err := os.Stat(dir)
		if err != nil {
			return usagef("create the directory first, or choose another --report",
				"the directory %s of %s does not exist", dir, p)
		}
		if !fi.IsDir() {
			return usagef("choose another --report", "%s is not a directory", dir)
		}
		if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
			return usagef("choose a directory you can write to, with --report",
				"cannot create files in %s: %v", dir, err)
		}
	}
	return nil
}

// orgCheck is what GET /api/v1/users/me told about the org and the token.
type orgCheck struct {
	Me      *okta.User    // the token's own user; nil for a token with none
	Latency time.Duration // of the one request
	Rate    okta.RateInfo // the user-GET bucket, as the answer told
}

// ownerID is the token's own user's ID, or "" when it is not known.
func (oc *orgCheck) ownerID() string {
	if oc == nil || oc.Me == nil {
		return ""
	}
	return oc.Me.ID
}

// checkOrg sends GET /api/v1/users/me once: the org must answer and accept
// the token. An unreachable host, a refused connection, a TLS failure, a
// timeout or a 401 is a usage error (exit 2) that says which; any other
// answer means the org is there and the token was taken (a client-credentials
// token has no user: 403/404 here).
func checkOrg(ctx context.Context, c *okta.Client, orgURL string) (*orgCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	start := time.Now()
	resp, err := c.GetMe(ctx, okta.CallOptions{})
	oc := &orgCheck{Latency: time.Since(start)}
	if err == nil {
		oc.Me, oc.Rate = resp.User, resp.Rate
		return oc, nil
	}
	if errors.Is(err, okta.ErrUnauthorized) {
		return nil, usagef("check OKTA_CLIENT_TOKEN or --token-file (revoked, expired, or another org's token?); nothing was sent and no file was created",
			"the org %s refused the token: %w", orgURL, err)
	}
	var ne *okta.NetError
	if errors.As(err, &ne) {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return nil, err // interrupted: the caller says so
		}
		return nil, usagef(unreachableHint(ne.Err),
			"could not reach the org %s: %s", orgURL, unreachableReason(ne))
	}
	// Okta answered (403/404 for a token without a user, 429, 5xx...): the
	// org is there; the run decides what the answer means.
	if ae, ok := errors.AsType[*okta.APIError](err); ok {
		oc.Rate = ae.Rate
	}
	return oc, nil
}

// unreachableReason says in an administrator's words why no answer came.
func unreachableReason(ne *okta.NetError) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(ne.Err, &dns):
		return fmt.Sprintf("the host name %s does not resolve", dns.Name)
	case errors.Is(ne.Err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.As(ne.Err, &cert), errors.As(ne.Err, &unknownCA), errors.As(ne.Err, &hostname):
		return fmt.Sprintf("its TLS certificate was not accepted: %v", ne.Err)
	case errors.As(ne.Err, &rec), strings.Contains(ne.Err.Error(), "server gave HTTP response to HTTPS client"):
		return "it did not answer in TLS (is the URL's scheme right?)"
	case ne.Timeout:
		return fmt.Sprintf("no answer within %s", preflightTimeout)
	}
	return ne.Error()
}

func unreachableHint(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "check --org-url (or OKTA_CLIENT_ORGURL) for a typo; nothing was sent and no file was created"
	}
	return "check --org-url and the network; nothing was sent and no file was created"
}
