package emulator

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestGenerateUsersRules(t *testing.T) {
	us := GenerateUsers(7, 200)
	if len(us) != 200 {
		t.Fatalf("%d users", len(us))
	}
	if us[0].Login != "admin@example.com" || us[0].Status != StatusActive || us[0].Password != "Pw-admin-1!" || us[0].RecoveryAnswer != "blue-0" {
		t.Errorf("admin %+v", us[0])
	}
	ids := map[string]bool{}
	statusCount := map[string]int{}
	for i, u := range us {
		if !userIDPattern.MatchString(u.ID) || ids[u.ID] {
			t.Fatalf("user %d id %q bad or repeated", i, u.ID)
		}
		ids[u.ID] = true
		statusCount[u.Status]++
		wantGroups := []string{EveryoneGroup}
		switch {
		case i%4 == 1:
			wantGroups = append(wantGroups, GeneratedContractors)
		case i%10 == 2:
			wantGroups = append(wantGroups, GeneratedFinance)
		}
		if !reflect.DeepEqual(u.Groups, wantGroups) || (len(u.Apps) == 1 && u.Apps[0] == GeneratedApp) != (i%3 == 0) {
			t.Errorf("user %d groups %v apps %v", i, u.Groups, u.Apps)
		}
		if i == 0 {
			continue
		}
		if want := fmt.Sprintf("user%05d@example.com", i); u.Login != want || u.Email != want {
			t.Errorf("user %d login %q", i, u.Login)
		}
		wantStatus := map[int]string{7: "STAGED", 13: "PROVISIONED", 19: "PASSWORD_EXPIRED", 23: "RECOVERY",
			29: "LOCKED_OUT", 37: "SUSPENDED", 43: "DEPROVISIONED"}[i%50]
		if wantStatus == "" {
			wantStatus = StatusActive
		}
		if u.Status != wantStatus {
			t.Errorf("user %d status %s, want %s", i, u.Status, wantStatus)
		}
		switch {
		case i%20 == 11:
			if u.Provider != ProviderFederation || u.Password != "" || u.RecoveryQuestion != "" {
				t.Errorf("user %d should be federated: %s", i, u.Provider)
			}
		case i%10 == 4:
			if u.Provider != ProviderOkta || u.RecoveryQuestion != "" || u.Password != fmt.Sprintf("Pw-user%05d-1!", i) {
				t.Errorf("user %d should have a password and no question", i)
			}
		default:
			if u.Password != fmt.Sprintf("Pw-user%05d-1!", i) || u.RecoveryQuestion != GeneratedQuestion || u.RecoveryAnswer != fmt.Sprintf("blue-%d", i) {
				t.Errorf("user %d credentials do not follow the rule", i)
			}
		}
	}
	if statusCount[StatusActive] < 160 || len(statusCount) != 8 {
		t.Errorf("status distribution %v", statusCount)
	}
	again := GenerateUsers(7, 200)
	other := GenerateUsers(8, 200)
	for i := range us {
		if !reflect.DeepEqual(again[i], us[i]) {
			t.Fatalf("not deterministic at %d", i)
		}
	}
	if other[5].ID == us[5].ID || other[5].Login != us[5].Login {
		t.Errorf("the seed should change IDs only")
	}
	if n := len(New(Config{Seed: 1}).Users()); n != 100 {
		t.Errorf("default org has %d users", n)
	}
}

func TestLoadUsers(t *testing.T) {
	good := `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","email":"a@x.example","firstName":"A","lastName":"B","status":"ACTIVE","password":"Secret-1"},
	          {"id":"00uBBBBBBBBBBBBBBBBB","login":"b@x.example","provider":"FEDERATION"}]`
	us, err := LoadUsers(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[1].Status != StatusActive || us[0].Provider != ProviderOkta || us[0].Password != "Secret-1" {
		t.Errorf("loaded %+v", us)
	}
	bad := []struct{ name, json, want string }{
		{"bad id", `[{"id":"00u123","login":"a@x"}]`, "does not match"},
		{"dup id", `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x"},{"id":"00uAAAAAAAAAAAAAAAAA","login":"b@x"}]`, "already used"},
		{"dup login ignoring case", `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x"},{"id":"00uBBBBBBBBBBBBBBBBB","login":"A@X"}]`, "already used"},
		{"empty login", `[{"id":"00uAAAAAAAAAAAAAAAAA"}]`, "empty login"},
		{"bad status", `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x","status":"GONE"}]`, "unknown status"},
		{"federated password", `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x","provider":"FEDERATION","password":"Hidden-9"}]`, "FEDERATION"},
		{"malformed", `[{"id":`, "invalid user list"},
		{"unknown field", `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x","pasword":"Hidden-9"}]`, "unknown field"},
		{"empty", `[]`, "empty"},
	}
	for _, c := range bad {
		_, err := LoadUsers(strings.NewReader(c.json))
		if err == nil || !errors.Is(err, ErrInvalidUsers) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "Hidden-9") {
			t.Errorf("%s: the error shows a password", c.name)
		}
	}
}
