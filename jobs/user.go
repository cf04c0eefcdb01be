package jobs

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// A user cell is an Okta ID or a login (an email-like login, or a short
// name), and it goes into the path of /api/v1/users/{user}: a cell that is
// exactly "." or "..", or that holds /, ?, # or % anywhere, would address
// another resource or be decoded again on the way. Whitespace inside, a
// control character and invalid UTF-8 never belong to a login either: they
// are a paste gone wrong (two users in one cell, a tab from a terminal, a
// file saved in a legacy encoding), refused before anything is sent.
//
// The cell is checked after surrounding white space is trimmed (the
// manifest's rule since its first version); what is refused is inside.

// userByte classifies the ASCII bytes of a user cell; 0 is fine.
var userByte = func() (t [utf8.RuneSelf]uint8) {
	for c := range 0x20 {
		t[c] = userControl
	}
	t[0x7F] = userControl
	for _, c := range "\t\n\v\f\r " {
		t[c] = userSpace
	}
	for _, c := range "/?#%" {
		t[c] = userReserved
	}
	return t
}()

const (
	userOK uint8 = iota
	userControl
	userSpace
	userReserved
)

// checkUser returns what is wrong with a trimmed, non-empty user cell, as a
// message and a hint that never quote the cell, or ok. It is a byte loop:
// only a non-ASCII byte decodes a rune.
func checkUser(u string) (msg, hint string, ok bool) {
	if u == "." || u == ".." {
		return "the user is " + u + ": a user is an Okta ID or a login",
			"name the user by Okta ID (00u...) or by login", false
	}
	for i := 0; i < len(u); {
		c := u[i]
		if c < utf8.RuneSelf {
			switch userByte[c] {
			case userControl:
				return fmt.Sprintf("the user holds a control character (U+%04X)", c),
					"remove it: a user is an Okta ID (00u...) or a login", false
			case userSpace:
				return "the user holds whitespace inside",
					"one user a cell, without spaces: is a separator missing between two cells?", false
			case userReserved:
				return fmt.Sprintf("the user holds a %c, which no Okta ID or login holds", c),
					"write the ID or login as it is (not URL-encoded); is this the right column?", false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(u[i:])
		switch {
		case r == utf8.RuneError:
			// Invalid UTF-8, or U+FFFD: the mark of a transcoding that
			// already lost a character.
			return "the user is not valid UTF-8 text",
				"save the manifest as UTF-8 (in Excel: CSV UTF-8)", false
		case unicode.IsSpace(r):
			return fmt.Sprintf("the user holds whitespace inside (U+%04X)", r),
				"one user a cell, without spaces: is a separator missing between two cells?", false
		case unicode.IsControl(r):
			return fmt.Sprintf("the user holds a control character (U+%04X)", r),
				"remove it: a user is an Okta ID (00u...) or a login", false
		}
		i += size
	}
	return "", "", true
}
