package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/credbatch/credbatch/internal/secret"
)

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var sealedForm = regexp.MustCompile(`^age:[A-Za-z0-9+/]+=*$`)

// A sealed secret is "age:" + base64 of age ciphertext; any recipient's
// identity opens it, another identity does not, and the error never holds
// the secret.
func TestSealUnsealRoundTrip(t *testing.T) {
	a, b, other := newIdentity(t), newIdentity(t), newIdentity(t)
	recips, canon, err := parseRecipients([]string{b.Recipient().String() + " , " + a.Recipient().String(), a.Recipient().String()})
	if err != nil {
		t.Fatalf("parseRecipients: %v", err)
	}
	if len(recips) != 2 {
		t.Fatalf("%d recipients, want 2 (deduplicated)", len(recips))
	}
	names := []string{a.Recipient().String(), b.Recipient().String()}
	if names[0] > names[1] {
		names[0], names[1] = names[1], names[0]
	}
	if canon != strings.Join(names, ",") {
		t.Errorf("canonical form %q, want the sorted recipients joined by commas", canon)
	}
	seal := sealer(recips)
	const pw = "Tmp-Pass,\"word\"-42"
	s1, err := seal(secret.New(pw))
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	s2, err := seal(secret.New(pw))
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	if !sealedForm.MatchString(s1.Reveal()) || strings.Contains(s1.Reveal(), pw) {
		t.Fatalf("sealed value is not age:BASE64 of ciphertext")
	}
	if s1.Reveal() == s2.Reveal() {
		t.Error("two seals of one secret are equal: the encryption is not randomised")
	}
	for _, id := range []age.Identity{a, b} {
		got, err := unseal(s1, []age.Identity{id})
		if err != nil {
			t.Fatalf("unseal: %v", err)
		}
		if got.Reveal() != pw {
			t.Error("unseal did not give back the secret")
		}
	}
	_, err = unseal(s1, []age.Identity{other})
	var nm *age.NoIdentityMatchError
	if !errors.As(err, &nm) {
		t.Errorf("unseal with a foreign identity = %v, want a NoIdentityMatchError", err)
	}
	if err != nil && strings.Contains(err.Error(), pw) {
		t.Error("the error holds the secret")
	}
	// a cleartext cell passes through; a corrupt sealed one is refused
	if got, err := unseal(secret.New(pw), []age.Identity{a}); err != nil || got.Reveal() != pw {
		t.Errorf("unseal of a cleartext value = %v, want it unchanged", err)
	}
	if _, err := unseal(secret.New("age:!!"+pw), []age.Identity{a}); !errors.Is(err, errNotSealed) || strings.Contains(err.Error(), pw) {
		t.Errorf("unseal of a corrupt value = %v, want errNotSealed", err)
	}
}

func TestParseRecipientsRefuses(t *testing.T) {
	for _, in := range [][]string{{"age1nope"}, {","}, {"AGE-SECRET-KEY-1C2YNPL36ULA8XR86Y59V653KQFJVV2DQLX4Y45DT6V0MSU6FE2GSHHQSSY"}} {
		_, _, err := parseRecipients(in)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseRecipients(%q) = %v, want a usage error", in, err)
		}
		if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY") {
			t.Error("the error echoes a secret key")
		}
	}
	if r, canon, err := parseRecipients(nil); err != nil || r != nil || canon != "" {
		t.Errorf("no --encrypt-to: %v %v %q, want nothing", r, err, canon)
	}
}
