package okta

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UserEvidence is what GET /api/v1/users/{id} says about a user's last
// changes: the fields `credbatch verify` compares with an attempt's time.
// Okta reads a user strongly consistently (unlike the System Log), so the
// answer reflects every change Okta applied before it.
type UserEvidence struct {
	ID     string
	Login  string // profile.login
	Status string
	// The timestamps as Okta served them, in UTC; zero when null or
	// absent (passwordChanged is null for a user without a password,
	// statusChanged for one whose status never changed).
	StatusChanged   time.Time
	PasswordChanged time.Time
	LastUpdated     time.Time
	// RecoveryQuestion is credentials.recovery_question.question: the
	// current question ("" when none). The answer is never served.
	RecoveryQuestion string
}

// userEvidenceJSON is the part of Okta's User object UserEvidence reads.
type userEvidenceJSON struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	StatusChanged   *time.Time `json:"statusChanged"`
	PasswordChanged *time.Time `json:"passwordChanged"`
	LastUpdated     *time.Time `json:"lastUpdated"`
	Profile         struct {
		Login string `json:"login"`
	} `json:"profile"`
	Credentials struct {
		RecoveryQuestion struct {
			Question string `json:"question"`
		} `json:"recovery_question"`
	} `json:"credentials"`
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// GetUserEvidence sends GET /api/v1/users/{userID} (the user-GET bucket)
// and decodes the answer with encoding/json. The *Page carries the answer's
// request ID and RateInfo (its Date is Okta's clock); it is returned beside
// an error too when an answer arrived, so that the caller can pace by it.
// Failures are as for every call: an *APIError (404 for a user that no
// longer exists), a *NetError; an answer that is not a User of this ID is
// a *NetError wrapping ErrBadResponse.
func (c *Client) GetUserEvidence(ctx context.Context, userID string, o CallOptions) (*UserEvidence, *Page, error) {
	p, err := userPath(userID, "")
	if err != nil {
		return nil, nil, err
	}
	var raw userEvidenceJSON
	pg, err := c.GetPage(ctx, p, &raw, o)
	if err != nil {
		return nil, pg, err
	}
	if raw.ID != userID {
		return nil, pg, &NetError{Op: "GET " + p, MayHaveReached: true, RequestID: pg.RequestID,
			Err: fmt.Errorf("%w: HTTP %d: the answer is not the user %s", ErrBadResponse, pg.HTTPStatus, userID)}
	}
	return &UserEvidence{
		ID: raw.ID, Login: raw.Profile.Login, Status: raw.Status,
		StatusChanged: utcOrZero(raw.StatusChanged), PasswordChanged: utcOrZero(raw.PasswordChanged),
		LastUpdated: utcOrZero(raw.LastUpdated), RecoveryQuestion: raw.Credentials.RecoveryQuestion.Question,
	}, pg, nil
}

// AnswerRate returns the RateInfo of the answer a GetUserEvidence or
// ListLogEvents call got, whether the call succeeded or not; ok is false
// when no answer arrived (a *NetError without a page).
func AnswerRate(pg *Page, err error) (ri RateInfo, ok bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Rate, true
	}
	if pg != nil {
		return pg.Rate, true
	}
	return RateInfo{}, false
}
