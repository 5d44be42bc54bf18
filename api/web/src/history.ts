// A task's history from the audit log, as a timeline: who did what, and
// each changed field's old and new value; the chain's verification on top.

import * as api from "./api";
import { ApiError } from "./api";
import { $, clear, h } from "./dom";
import { full } from "./format";
import { describe } from "./recur";
import type { AuditRecord, Task, Verification } from "./types";

const labels: Record<string, string> = {
  "task.created": "created the task",
  "task.updated": "changed it",
  "task.completed": "completed it",
  "task.deleted": "deleted it",
  "task.reminder.triggered": "reminded you",
  "task.overdue": "marked it overdue",
};

// show renders one field's value for people.
function show(field: string, v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) {
    if (field === "reminders") return v.length ? v.map((r: { offset?: string; at?: string }) => r.offset ? r.offset + " before" : r.at ? full(r.at) : "?").join(", ") : "none";
    return v.length ? v.join(", ") : "none";
  }
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return full(v);
  if (field === "recurrence_pattern") return describe(String(v));
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

function who(r: AuditRecord): string {
  const t = r.payload.task;
  if (r.event_type === "task.reminder.triggered" || r.event_type === "task.overdue") return "TaskFlow";
  if (r.event_type === "task.created" && t?.parent_recurring_task_id) return "TaskFlow (the series)";
  return r.user_id === api.tokenUser(api.token() ?? "") ? "You" : r.user_id;
}

export async function openHistory(task: Task): Promise<void> {
  const dialog = $("#history") as HTMLDialogElement;
  clear(dialog);
  const body = h("div", { class: "timeline-body" }, h("p", { class: "muted" }, "Loading…"));
  const badge = h("p", { class: "verify", role: "status" }, "Verifying the chain…");
  dialog.append(
    h("header", {}, h("h2", {}, "History of “", task.title, "”"), h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    badge,
    body,
  );
  // On a wide screen the history is a drawer beside the list (the list,
  // and the toasts, stay in view); on a phone it takes the screen.
  if (matchMedia("(min-width: 60rem)").matches) {
    dialog.classList.add("drawer");
    dialog.show();
    (dialog.querySelector("header button") as HTMLElement | null)?.focus();
  } else {
    dialog.classList.remove("drawer");
    dialog.showModal();
  }
  // The audit log is written a moment after a change: a task created just
  // now may have no history yet.
  let records: PromiseSettledResult<AuditRecord[]>, check: PromiseSettledResult<Verification>;
  for (let attempt = 0; ; attempt++) {
    [records, check] = await Promise.allSettled([api.history(task.id), api.verify(task.id)]);
    const missing = (r: PromiseSettledResult<unknown>) => r.status === "rejected" && r.reason instanceof ApiError && r.reason.status === 404;
    if (!(missing(records) || missing(check)) || attempt >= 10 || !dialog.open) break;
    body.firstElementChild!.textContent = "Waiting for the audit log to catch up…";
    await new Promise((r) => setTimeout(r, 500));
  }
  if (check.status === "fulfilled") {
    const v = check.value;
    badge.className = "verify " + (v.valid ? "ok" : "broken");
    badge.textContent = v.valid
      ? "✓ Verified: " + v.events + (v.events === 1 ? " event" : " events") + ", the hash chain is intact"
      : "✗ The chain is broken at event " + (v.first_broken_event_id ?? "?") + ": " + (v.reason ?? "");
  } else {
    badge.className = "verify";
    badge.textContent = "Could not verify the chain: " + String((check.reason as Error).message);
  }
  clear(body);
  if (records.status === "rejected") {
    body.append(h("p", { class: "field-error" }, "Could not load the history: " + String((records.reason as Error).message)));
    return;
  }
  if (records.value.length === 0) {
    body.append(h("p", { class: "muted" }, "No events yet: the audit log takes a moment to catch up."));
    return;
  }
  let prev: Task | null = null;
  const items = records.value.map((r) => {
    const t = r.payload.task;
    const changes: HTMLElement[] = [];
    if (r.event_type === "task.created") {
      for (const f of ["title", "due_date", "priority", "tags", "recurrence_pattern", "reminders"] as (keyof Task)[]) {
        const v = t[f];
        if (v !== null && v !== "" && !(Array.isArray(v) && v.length === 0) && !(f === "priority" && v === "none")) {
          changes.push(h("li", {}, h("span", { class: "field-name" }, f.replace(/_/g, " ")), " ", h("span", { class: "new" }, show(f, v))));
        }
      }
    } else if (r.event_type === "task.reminder.triggered" && r.payload.reminder) {
      changes.push(h("li", {}, "due at " + full(r.payload.reminder.scheduled_at) + ", fired " + Math.max(0, r.payload.reminder.late_ms) + " ms after"));
    } else {
      for (const f of (r.payload.changed_fields ?? []) as (keyof Task)[]) {
        changes.push(h("li", {}, h("span", { class: "field-name" }, f.replace(/_/g, " ")), " ",
          h("del", { class: "old" }, show(f, prev ? prev[f] : undefined)), " → ", h("ins", { class: "new" }, show(f, t[f]))));
      }
    }
    prev = t ?? prev;
    return h("li", { class: "event " + r.event_type.replace(/\./g, "-") },
      h("time", { datetime: r.occurred_at }, full(r.occurred_at)),
      h("p", {}, h("strong", {}, who(r)), " ", labels[r.event_type] ?? r.event_type, r.version ? h("span", { class: "muted" }, " · version " + r.version) : null),
      changes.length ? h("ul", { class: "changes" }, ...changes) : null);
  });
  body.append(h("ol", { class: "timeline" }, ...items));
}
