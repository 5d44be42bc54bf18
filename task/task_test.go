package task_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/task"
)

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func fields(t testing.TB, err error) []string {
	t.Helper()
	var ve *task.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	if !errors.Is(err, task.ErrValidation) {
		t.Fatalf("errors.Is(%v, ErrValidation) = false", err)
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestNew(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 1, 17, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		userID     string
		draft      task.Draft
		wantFields []string
		check      func(t *testing.T, got task.Task)
	}{
		{
			name:   "minimal task gets defaults",
			userID: "alice",
			draft:  task.Draft{Title: "  Buy milk  "},
			check: func(t *testing.T, got task.Task) {
				if got.Title != "Buy milk" || got.Priority != task.PriorityNone || got.Version != 1 ||
					got.Completed || len(got.Tags) != 0 || got.Tags == nil || !got.CreatedAt.Equal(now) {
					t.Errorf("unexpected task %+v", got)
				}
			},
		},
		{
			name:   "due date is stored in UTC, tags normalised",
			userID: "alice",
			draft: task.Draft{Title: "Report", Priority: task.PriorityHigh, DueDate: &due,
				Tags: []string{" Work", "work", "Q4 "}, ReminderOffset: ptr("1 hour")},
			check: func(t *testing.T, got task.Task) {
				if got.DueDate.Location() != time.UTC || !got.DueDate.Equal(due) {
					t.Errorf("due date %v", got.DueDate)
				}
				if !slices.Equal(got.Tags, []string{"work", "q4"}) {
					t.Errorf("tags %v", got.Tags)
				}
			},
		},
		{name: "title required", userID: "alice", draft: task.Draft{Title: "   "}, wantFields: []string{"title"}},
		{name: "title too long", userID: "alice", draft: task.Draft{Title: strings.Repeat("é", task.MaxTitleLen+1)}, wantFields: []string{"title"}},
		{name: "title control characters", userID: "alice", draft: task.Draft{Title: "a\x00b"}, wantFields: []string{"title"}},
		{name: "description too long", userID: "alice", draft: task.Draft{Title: "x", Description: strings.Repeat("a", task.MaxDescriptionLen+1)}, wantFields: []string{"description"}},
		{name: "bad priority", userID: "alice", draft: task.Draft{Title: "x", Priority: "urgent"}, wantFields: []string{"priority"}},
		{name: "empty tag", userID: "alice", draft: task.Draft{Title: "x", Tags: []string{"ok", " "}}, wantFields: []string{"tags[1]"}},
		{name: "too many tags", userID: "alice", draft: task.Draft{Title: "x", Tags: manyTags(task.MaxTags + 1)}, wantFields: []string{"tags"}},
		{name: "recurrence needs due date", userID: "alice", draft: task.Draft{Title: "x", RecurrencePattern: ptr("daily:")}, wantFields: []string{"recurrence_pattern"}},
		{name: "reminder needs due date", userID: "alice", draft: task.Draft{Title: "x", ReminderOffset: ptr("1 hour")}, wantFields: []string{"reminder_offset"}},
		{name: "bad reminder offset", userID: "alice", draft: task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptr("soonish")}, wantFields: []string{"reminder_offset"}},
		{name: "end date needs pattern", userID: "alice", draft: task.Draft{Title: "x", DueDate: &due, RecurrenceEndDate: &due}, wantFields: []string{"recurrence_end_date"}},
		{name: "missing user", userID: "", draft: task.Draft{Title: "x"}, wantFields: []string{"user_id"}},
		{
			name: "every problem reported at once", userID: "alice",
			draft:      task.Draft{Title: "", Priority: "p1", ReminderOffset: ptr("1h")},
			wantFields: []string{"title", "priority", "reminder_offset"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := task.New(uuid.New(), tt.userID, tt.draft, now)
			if tt.wantFields != nil {
				if err == nil {
					t.Fatalf("New succeeded, want errors on %v", tt.wantFields)
				}
				if f := fields(t, err); !slices.Equal(f, tt.wantFields) {
					t.Fatalf("invalid fields = %v, want %v", f, tt.wantFields)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tt.check(t, got)
		})
	}
}

func manyTags(n int) []string {
	var tags []string
	for i := range n {
		tags = append(tags, "t"+strings.Repeat("x", i))
	}
	return tags
}

func TestApply(t *testing.T) {
	t.Parallel()
	due := now.Add(48 * time.Hour)
	base, err := task.New(uuid.New(), "alice", task.Draft{Title: "Plan", DueDate: &due, ReminderOffset: ptr("30m"), Tags: []string{"a"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	tests := []struct {
		name        string
		patch       task.Patch
		wantChanged []string
		wantFields  []string
		check       func(t *testing.T, got task.Task)
	}{
		{name: "empty patch changes nothing", patch: task.Patch{}},
		{name: "same value changes nothing", patch: task.Patch{Title: task.Some("Plan"), Tags: task.Some([]string{"A"})}},
		{
			name: "title and priority", patch: task.Patch{Title: task.Some("Plan Q1"), Priority: task.Some(task.PriorityHigh)},
			wantChanged: []string{"priority", "title"},
			check: func(t *testing.T, got task.Task) {
				if got.Version != base.Version+1 || !got.UpdatedAt.Equal(later) || got.Title != "Plan Q1" {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name: "clear reminder then due date", patch: task.Patch{ReminderOffset: task.Null[string](), DueDate: task.Null[time.Time]()},
			wantChanged: []string{"due_date", "reminder_offset", "reminders"},
			check: func(t *testing.T, got task.Task) {
				if got.DueDate != nil || got.ReminderOffset != nil {
					t.Errorf("got %+v", got)
				}
			},
		},
		{name: "clearing due date keeps reminder invalid", patch: task.Patch{DueDate: task.Null[time.Time]()}, wantFields: []string{"reminder_offset"}},
		{name: "invalid title", patch: task.Patch{Title: task.Some("")}, wantFields: []string{"title"}},
		{name: "null title", patch: task.Patch{Title: task.Null[string]()}, wantFields: []string{"title"}},
		{
			name: "null clears description and tags", patch: task.Patch{Description: task.Null[string](), Tags: task.Null[[]string]()},
			wantChanged: []string{"tags"},
			check: func(t *testing.T, got task.Task) {
				if got.Tags == nil || len(got.Tags) != 0 {
					t.Errorf("tags = %#v", got.Tags)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, changed, err := base.Apply(tt.patch, later)
			if tt.wantFields != nil {
				if f := fields(t, err); !slices.Equal(f, tt.wantFields) {
					t.Fatalf("invalid fields = %v, want %v", f, tt.wantFields)
				}
				if got.Version != base.Version {
					t.Errorf("failed patch moved version")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(changed, tt.wantChanged) {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if len(changed) == 0 && got.Version != base.Version {
				t.Errorf("no-op patch moved version to %d", got.Version)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
	if base.Title != "Plan" || base.Tags[0] != "a" {
		t.Errorf("Apply mutated its receiver: %+v", base)
	}
}

func TestCompleteUncompleteDelete(t *testing.T) {
	t.Parallel()
	tk, err := task.New(uuid.New(), "bob", task.Draft{Title: "x"}, now)
	if err != nil {
		t.Fatal(err)
	}
	done, changed, ok := tk.Complete(now.Add(time.Second))
	if !ok || !done.Completed || done.CompletedAt == nil || done.Version != 2 || len(changed) != 2 {
		t.Fatalf("Complete = %+v %v %v", done, changed, ok)
	}
	if _, _, ok := done.Complete(now); ok {
		t.Error("completing a completed task reported a change")
	}
	open, _, ok := done.Uncomplete(now.Add(2 * time.Second))
	if !ok || open.Completed || open.CompletedAt != nil || open.Version != 3 {
		t.Fatalf("Uncomplete = %+v", open)
	}
	if _, _, ok := open.Uncomplete(now); ok {
		t.Error("reopening an open task reported a change")
	}
	if gone := open.Delete(now); gone.Version != 4 {
		t.Errorf("Delete version = %d", gone.Version)
	}
}

func TestParsePriorityRank(t *testing.T) {
	t.Parallel()
	for i, name := range []string{"none", "low", "medium", "high"} {
		p, err := task.ParsePriority(name)
		if err != nil || p.Rank() != i {
			t.Errorf("ParsePriority(%q) = %v, %v rank %d", name, p, err, p.Rank())
		}
	}
	if _, err := task.ParsePriority("HIGH"); err == nil {
		t.Error("priority names are case-sensitive")
	}
}

func TestPatchJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := task.Patch{Title: task.Some("x"), DueDate: task.Null[time.Time](), Tags: task.Some([]string{"a"})}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"title":"x","tags":["a"],"due_date":null}` {
		t.Fatalf("marshal = %s", b)
	}
	var out task.Patch
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Title.Set || out.Title.Value != "x" || !out.DueDate.Null || out.Description.Set || out.Priority.Set {
		t.Fatalf("round trip = %+v", out)
	}
}

func TestOptionalJSON(t *testing.T) {
	t.Parallel()
	var v struct {
		A task.Optional[string] `json:"a"`
		B task.Optional[string] `json:"b"`
		C task.Optional[string] `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"a":null,"b":"x"}`), &v); err != nil {
		t.Fatal(err)
	}
	if !v.A.Set || !v.A.Null || v.A.Ptr() != nil {
		t.Errorf("a = %+v", v.A)
	}
	if !v.B.Set || v.B.Null || *v.B.Ptr() != "x" {
		t.Errorf("b = %+v", v.B)
	}
	if v.C.Set {
		t.Errorf("c = %+v", v.C)
	}
}

func TestCloudEventRoundTrip(t *testing.T) {
	t.Parallel()
	tk, err := task.New(uuid.New(), "carol", task.Draft{Title: "x"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ev := task.NewEvent(task.EventCreated, tk, nil, "corr-1", now)
	b, err := ev.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	var ce task.CloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Fatal(err)
	}
	if ce.Type != "task.created" || ce.ID != ev.EventID.String() || ce.SpecVersion != "1.0" || ce.Subject != tk.ID.String() {
		t.Errorf("envelope %+v", ce)
	}
	back, err := task.ParseCloudEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.EventID != ev.EventID || back.Version != 1 || back.Task.Title != "x" || back.CorrelationID != "corr-1" {
		t.Errorf("round trip = %+v", back)
	}
}
