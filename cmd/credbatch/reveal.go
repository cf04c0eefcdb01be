package main

// --encrypt-to and --reveal: the issued secrets (temp passwords, reset
// links) sealed with age (filippo.io/age) for the report and the
// checkpoint, and opened again for whoever holds the identity.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// sealedPrefix marks a sealed cell: "age:" + base64 (standard, no
// newlines) of the binary age ciphertext.
const sealedPrefix = "age:"

// parseRecipients reads --encrypt-to (repeated and/or comma-separated age1…
// X25519 recipients). It returns them with their canonical form for the
// checkpoint header: sorted, deduplicated, joined by commas ("" when none).
func parseRecipients(vals []string) ([]age.Recipient, string, error) {
	var names []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				names = append(names, s)
			}
		}
	}
	if len(vals) > 0 && len(names) == 0 {
		return nil, "", usagef("e.g. --encrypt-to age1…", "--encrypt-to: no recipient given")
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []age.Recipient
	for _, n := range names {
		if strings.HasPrefix(strings.ToUpper(n), "AGE-SECRET-KEY-") {
			// Never echo a secret key given by mistake.
			return nil, "", usagef("give the recipient (age1…), the public half age-keygen prints; keep the identity secret",
				"--encrypt-to: that is an age identity (a secret key), not a recipient")
		}
		r, err := age.ParseX25519Recipient(n)
		if err != nil {
			return nil, "", usagef("a recipient is the age1… line age-keygen prints", "--encrypt-to %q: %w", n, err)
		}
		out = append(out, r)
	}
	return out, strings.Join(names, ","), nil
}

// sealer returns the runner's Seal for these recipients.
func sealer(recips []age.Recipient) func(secret.String) (secret.String, error) {
	return func(s secret.String) (secret.String, error) {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, recips...)
		if err != nil {
			return secret.String{}, fmt.Errorf("age: %w", err)
		}
		if _, err := io.WriteString(w, s.Reveal()); err != nil {
			return secret.String{}, fmt.Errorf("age: %w", err)
		}
		if err := w.Close(); err != nil {
			return secret.String{}, fmt.Errorf("age: %w", err)
		}
		return secret.New(sealedPrefix + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
	}
}

// errNotSealed: a cell that starts with "age:" does not hold age ciphertext.
var errNotSealed = errors.New("not an age-sealed value")

// unseal opens a sealed value; a value without the "age:" prefix is returned
// as it is. Errors never hold the value.
func unseal(s secret.String, ids []age.Identity) (secret.String, error) {
	v, ok := strings.CutPrefix(s.Reveal(), sealedPrefix)
	if !ok {
		return s, nil
	}
	ct, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return secret.String{}, errNotSealed
	}
	r, err := age.Decrypt(bytes.NewReader(ct), ids...)
	if err != nil {
		return secret.String{}, err
	}
	pt, err := io.ReadAll(r)
	if err != nil {
		return secret.String{}, err
	}
	return secret.New(string(pt)), nil
}

// revealReport writes the report at path, its sealed secrets decrypted with
// the identities in identityPath, to out (format by out's extension; created
// O_EXCL with mode 0600). Nothing is written to the terminal.
func revealReport(path, identityPath, out string) error {
	outFormat, err := report.FormatOf(out)
	if err != nil {
		return usagef("name it .csv or .jsonl", "--reveal %s: %w", out, err)
	}
	idf, err := os.Open(identityPath)
	if err != nil {
		return usagef("", "--identity: %w", err)
	}
	ids, err := age.ParseIdentities(idf)
	idf.Close()
	if err != nil {
		return usagef("an identity file is what age-keygen writes", "--identity %s: %w", identityPath, err)
	}
	// Every row is decrypted before OUT is created: a wrong identity
	// leaves no file behind.
	var rows []*report.Row
	err = report.ReadFile(path, func(r *report.Row) error {
		for _, c := range []struct {
			name string
			v    *secret.String
		}{{"temp_password", &r.TempPassword}, {"reset_url", &r.ResetURL}} {
			p, err := unseal(*c.v, ids)
			if err != nil {
				var nm *age.NoIdentityMatchError
				if errors.As(err, &nm) {
					err = errors.New("the --identity does not match any recipient it was encrypted to")
				}
				return usagef("give the identity of a recipient the run was given with --encrypt-to",
					"--reveal: line %d: cannot decrypt %s: %w", r.Line, c.name, err)
			}
			*c.v = p
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		return usagef("", "%w", err)
	}
	layout, err := report.LayoutOf(path) // a hand-out list keeps its source and note
	if err != nil {
		return usagef("", "%w", err)
	}
	return writeRowsFile("--reveal", out, outFormat, layout, rows)
}
