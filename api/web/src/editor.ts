// The task editor: every field of a task, reminders and recurrence with a
// live preview of what the API would make of them, and the API's errors
// shown next to the field they name.

import * as api from "./api";
import { ApiError } from "./api";
import { $, clear, h, uid } from "./dom";
import { dateInput, endOfDay, fromInputs, fromLocalInput, full, localInput, timeInput, when } from "./format";
import { empty, fromPattern, type Preset, type Recurrence, toRule, weekdayNames, weekdays } from "./recur";
import { toast } from "./toast";
import type { Operation, Priority, ReminderSpec, Task, TaskBody } from "./types";

const offsetPresets = ["0m", "5m", "10m", "15m", "30m", "1 hour", "2 hours", "1 day", "2 days", "1 week"];
const presetLabels: Record<Preset, string> = {
  none: "Does not repeat",
  daily: "Daily",
  weekdays: "Every weekday (Mon–Fri)",
  weekly: "Weekly on…",
  monthly_day: "Monthly on day…",
  monthly_last: "Monthly on the last day",
  yearly: "Yearly",
  custom: "Custom (RRULE)",
};

interface ReminderRow {
  kind: "offset" | "at";
  offset: string;
  at: string; // datetime-local value
}

// fieldOf maps a problem's field name to the editor field showing it.
function fieldOf(name: string): string {
  if (/^reminders\[\d+\]/.test(name)) return name.replace(/^(reminders\[\d+\]).*$/, "$1");
  if (name === "reminder_offset") return "reminders";
  if (name === "Time-Zone") return "timezone";
  return name;
}

export class Editor {
  private dialog = $("#editor") as HTMLDialogElement;
  private task: Task | null = null;
  private reminders: ReminderRow[] = [];
  private rec: Recurrence = empty();
  private previewAbort: AbortController | null = null;
  private previewTimer = 0;
  private form!: HTMLFormElement;

  constructor(private onSaved: (t: Task) => void) {
    this.dialog.addEventListener("close", () => this.previewAbort?.abort());
  }

  // open edits t, or creates a task (prefilled with title) when t is null.
  open(t: Task | null, title = ""): void {
    this.task = t;
    const due = t?.due_date ?? null;
    this.reminders = (t?.reminders ?? []).map((r) =>
      r.at ? { kind: "at", offset: "15m", at: localInput(r.at) } : { kind: "offset", offset: r.offset ?? "15m", at: "" },
    );
    this.rec = fromPattern(t?.recurrence_pattern ?? null, due ? new Date(due) : undefined);
    if (t?.recurrence_end_date) {
      this.rec.end = "until";
      this.rec.until = dateInput(t.recurrence_end_date);
    }
    this.render(t, title, due);
    this.dialog.showModal();
    (this.form.elements.namedItem("title") as HTMLInputElement).focus();
    this.schedulePreview();
  }

  private field(name: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
    const id = "f-" + name;
    input.id = id;
    input.setAttribute("name", name);
    const err = h("p", { class: "field-error", id: "err-" + name, hidden: true });
    input.setAttribute("aria-describedby", err.id);
    return h("div", { class: "field", "data-field": name }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint" }, hint) : null, err);
  }

  private render(t: Task | null, title: string, due: string | null): void {
    clear(this.dialog);
    const instance = t?.parent_recurring_task_id ?? null;
    const series = !!t?.recurrence_pattern;
    const prio = h("select", {}, ...(["none", "low", "medium", "high"] as Priority[]).map((p) => h("option", { value: p, selected: (t?.priority ?? "none") === p }, p)));
    this.form = h(
      "form",
      { method: "dialog", novalidate: true, onsubmit: (e: Event) => { e.preventDefault(); void this.save(); }, oninput: () => this.schedulePreview(), onchange: () => this.schedulePreview() },
      h("header", {}, h("h2", {}, t ? "Edit task" : "New task"), h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => this.dialog.close() }, "×")),
      h("p", { class: "form-error", id: "err-form", role: "alert", hidden: true }),
      this.field("title", "Title", h("input", { type: "text", required: true, maxlength: 255, value: t?.title ?? title, autocomplete: "off" })),
      this.field("description", "Description", h("textarea", { rows: 3, maxlength: 10000 }, t?.description ?? "")),
      h(
        "div",
        { class: "row" },
        this.field("priority", "Priority", prio),
        this.field("tags", "Tags", h("input", { type: "text", value: (t?.tags ?? []).join(", "), placeholder: "work, home" }), "comma-separated"),
      ),
      h(
        "fieldset",
        { class: "when" },
        h("legend", {}, "Due ", h("span", { class: "zone" }, "(" + api.zone + ")")),
        h(
          "div",
          { class: "row" },
          this.field("due_date", "Date", h("input", { type: "date", value: due ? dateInput(due) : "" })),
          this.field("due_time", "Time", h("input", { type: "time", value: due ? timeInput(due) : "" })),
        ),
      ),
      h("fieldset", { class: "reminders" }, h("legend", {}, "Reminders"), h("div", { id: "reminder-rows" }),
        h("button", { type: "button", class: "link", onclick: () => { this.reminders.push({ kind: "offset", offset: "15m", at: "" }); this.renderReminders(); this.schedulePreview(); } }, "+ Add a reminder"),
        h("p", { class: "field-error", id: "err-reminders", hidden: true })),
      instance ? null : this.recurrenceFields(),
      h("section", { class: "preview", "aria-live": "polite" }, h("h3", {}, "Preview"), h("div", { id: "preview" }, "…")),
      instance || series
        ? h("fieldset", { class: "scope" }, h("legend", {}, "Apply the changes to"),
            radio("scope", "task", instance ? "this task only" : "the series only (instances made from now on)", true),
            radio("scope", "series", instance ? "the whole series (its open tasks too)" : "the series and its open tasks", false))
        : null,
      h("footer", {}, h("button", { type: "button", class: "ghost", onclick: () => this.dialog.close() }, "Cancel"),
        h("button", { type: "submit", class: "primary", id: "save" }, t ? "Save" : "Create task")),
    );
    this.dialog.append(this.form);
    this.renderReminders();
    this.renderRecurrence();
  }

  private recurrenceFields(): HTMLElement {
    const presetSel = h("select", { onchange: (e: Event) => {
      this.rec.preset = (e.target as HTMLSelectElement).value as Preset;
      // Weekly and monthly start from the due date's weekday and day.
      const due = fromInputs(this.value("due_date"), this.value("due_time"));
      if (due && this.rec.preset === "weekly") this.rec.days = [weekdays[(new Date(due).getDay() + 6) % 7]];
      if (due && this.rec.preset === "monthly_day") this.rec.monthDay = new Date(due).getDate();
      this.renderRecurrence();
    } },
      ...(Object.keys(presetLabels) as Preset[]).map((p) => h("option", { value: p, selected: this.rec.preset === p }, presetLabels[p])));
    return h("fieldset", { class: "repeat" }, h("legend", {}, "Repeat"), this.field("recurrence_preset", "Repeats", presetSel), h("div", { id: "repeat-detail" }),
      h("p", { class: "field-error", id: "err-recurrence_pattern", role: "alert", hidden: true }));
  }

  private renderRecurrence(): void {
    const box = this.dialog.querySelector("#repeat-detail");
    if (!box) return;
    clear(box);
    const r = this.rec;
    if (r.preset === "none") return;
    if (["daily", "weekly", "monthly_day", "monthly_last", "yearly"].includes(r.preset)) {
      const unit = { daily: "days", weekly: "weeks", monthly_day: "months", monthly_last: "months", yearly: "years" }[r.preset as string];
      const id = uid("interval");
      box.append(h("div", { class: "inline" }, h("label", { for: id }, "Every"),
        h("input", { id, type: "number", min: 1, max: 999, value: r.interval, class: "narrow", oninput: (e: Event) => { r.interval = Math.max(1, Number((e.target as HTMLInputElement).value) || 1); } }),
        h("span", {}, unit)));
    }
    if (r.preset === "weekly") {
      box.append(h("div", { class: "days", role: "group", "aria-label": "On days" }, ...weekdays.map((d) => {
        const id = uid("day");
        return h("span", { class: "day" }, h("input", { id, type: "checkbox", checked: r.days.includes(d), onchange: (e: Event) => {
          const on = (e.target as HTMLInputElement).checked;
          r.days = on ? [...r.days, d] : r.days.filter((x) => x !== d);
        } }), h("label", { for: id }, weekdayNames[d]));
      })));
    }
    if (r.preset === "monthly_day") {
      const id = uid("mday");
      box.append(h("div", { class: "inline" }, h("label", { for: id }, "On day"),
        h("input", { id, type: "number", min: 1, max: 31, value: r.monthDay, class: "narrow", oninput: (e: Event) => { r.monthDay = Number((e.target as HTMLInputElement).value) || 1; } })));
    }
    if (r.preset === "custom") {
      box.append(this.field("recurrence_pattern", "RRULE", h("input", { type: "text", value: r.raw, placeholder: "FREQ=MONTHLY;BYDAY=-1FR", spellcheck: false,
        oninput: (e: Event) => { r.raw = (e.target as HTMLInputElement).value; } }), "RFC 5545: FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, COUNT, UNTIL"));
    }
    const endName = uid("end");
    const untilId = uid("until");
    const countId = uid("count");
    box.append(h("fieldset", { class: "ends" }, h("legend", {}, "Ends"),
      endRadio(endName, "never", "Never", r),
      h("span", { class: "inline" }, endRadio(endName, "until", "On", r),
        h("input", { id: untilId, name: "recurrence_end_date", type: "date", value: r.until, "aria-label": "End date", "aria-describedby": "err-recurrence_end_date",
          oninput: (e: Event) => { r.until = (e.target as HTMLInputElement).value; r.end = "until"; } })),
      h("span", { class: "inline" }, endRadio(endName, "count", "After", r),
        h("input", { id: countId, type: "number", min: 1, max: 9999, value: r.count, class: "narrow", "aria-label": "Number of occurrences",
          oninput: (e: Event) => { r.count = Number((e.target as HTMLInputElement).value) || 1; r.end = "count"; } }), h("span", {}, "times")),
      h("p", { class: "field-error", id: "err-recurrence_end_date", hidden: true })));
  }

  private renderReminders(): void {
    const box = this.dialog.querySelector("#reminder-rows");
    if (!box) return;
    clear(box);
    this.reminders.forEach((r, i) => {
      const kindId = uid("rkind");
      const valueId = uid("rvalue");
      const kind = h("select", { id: kindId, "aria-label": "Reminder " + (i + 1) + " kind", onchange: (e: Event) => {
        r.kind = (e.target as HTMLSelectElement).value as ReminderRow["kind"];
        this.renderReminders();
      } }, h("option", { value: "offset", selected: r.kind === "offset" }, "before it is due"), h("option", { value: "at", selected: r.kind === "at" }, "at a time"));
      const value = r.kind === "offset"
        ? h("input", { id: valueId, type: "text", list: "offsets", value: r.offset, class: "narrow-text", "aria-label": "Reminder " + (i + 1) + ": how long before",
            oninput: (e: Event) => { r.offset = (e.target as HTMLInputElement).value; } })
        : h("input", { id: valueId, type: "datetime-local", value: r.at, "aria-label": "Reminder " + (i + 1) + ": when",
            oninput: (e: Event) => { r.at = (e.target as HTMLInputElement).value; } });
      box.append(h("div", { class: "reminder", "data-field": "reminders[" + i + "]" }, value, kind,
        h("button", { type: "button", class: "icon", "aria-label": "Remove reminder " + (i + 1), onclick: () => { this.reminders.splice(i, 1); this.renderReminders(); this.schedulePreview(); } }, "×"),
        h("p", { class: "field-error", id: "err-reminders[" + i + "]", hidden: true })));
    });
    if (!document.getElementById("offsets")) {
      document.body.append(h("datalist", { id: "offsets" }, ...offsetPresets.map((o) => h("option", { value: o }))));
    }
  }

  private value(name: string): string {
    const el = this.form.elements.namedItem(name) as HTMLInputElement | null;
    return el ? el.value : "";
  }

  // body is the form as a create body.
  private body(): TaskBody {
    const tags = this.value("tags").split(",").map((s) => s.trim()).filter(Boolean);
    const reminders: ReminderSpec[] = this.reminders.map((r) => (r.kind === "at" ? { at: fromLocalInput(r.at) ?? r.at } : { offset: r.offset.trim() }));
    const b: TaskBody = {
      title: this.value("title"),
      description: this.value("description"),
      priority: this.value("priority") as Priority,
      tags,
      due_date: fromInputs(this.value("due_date"), this.value("due_time")),
      reminders,
    };
    if (!this.task?.parent_recurring_task_id) {
      const rule = toRule(this.rec);
      b.recurrence_pattern = rule;
      b.recurrence_end_date = rule && this.rec.end === "until" ? endOfDay(this.rec.until) : null;
      if (rule) b.timezone = this.task?.timezone ?? api.zone;
    }
    return b;
  }

  // patch is what changed against the task being edited.
  private patch(t: Task): TaskBody {
    const b = this.body();
    const p: TaskBody = {};
    if (b.title !== t.title) p.title = b.title;
    if (b.description !== t.description) p.description = b.description;
    if (b.priority !== t.priority) p.priority = b.priority;
    if (JSON.stringify(b.tags) !== JSON.stringify(t.tags)) p.tags = b.tags;
    if ((b.due_date ?? null) !== (t.due_date ? new Date(t.due_date).toISOString() : null)) p.due_date = b.due_date;
    const specs = (t.reminders ?? []).map((r) => (r.at ? { at: new Date(r.at).toISOString() } : { offset: r.offset ?? "" }));
    if (JSON.stringify(b.reminders) !== JSON.stringify(specs)) p.reminders = b.reminders;
    if ("recurrence_pattern" in b && (b.recurrence_pattern ?? null) !== (t.recurrence_pattern ?? null)) {
      p.recurrence_pattern = b.recurrence_pattern;
      if (b.recurrence_pattern && !t.timezone) p.timezone = b.timezone;
    }
    if ("recurrence_end_date" in b && (b.recurrence_end_date ?? null) !== (t.recurrence_end_date ? new Date(t.recurrence_end_date).toISOString() : null)) {
      p.recurrence_end_date = b.recurrence_end_date;
    }
    return p;
  }

  private schedulePreview(): void {
    window.clearTimeout(this.previewTimer);
    this.previewTimer = window.setTimeout(() => void this.preview(), 250);
  }

  private async preview(): Promise<void> {
    this.previewAbort?.abort();
    const abort = new AbortController();
    this.previewAbort = abort;
    const box = this.dialog.querySelector("#preview");
    if (!box) return;
    const b = this.body();
    if (!b.title) b.title = "(untitled)";
    try {
      const p = await api.previewTask(b, abort.signal);
      this.showErrors(null, false);
      clear(box);
      const lines: HTMLElement[] = [];
      if (p.occurrences.length) lines.push(h("p", {}, "Next: ", p.occurrences.map((o) => when(o)).join(" · ")));
      const rem = p.reminders.filter((a) => a.type !== "overdue" && a.status === "pending");
      if (rem.length) lines.push(h("p", {}, "Reminds you ", rem.map((a) => when(a.trigger_at)).join(" · ")));
      if (p.task.due_date) lines.push(h("p", {}, "Due ", full(p.task.due_date)));
      box.append(...(lines.length ? lines : [h("p", { class: "muted" }, "No date, no reminders.")]));
    } catch (err) {
      if ((err as Error).name === "AbortError") return;
      if (err instanceof ApiError && err.status === 422) {
        clear(box);
        box.append(h("p", { class: "muted" }, "Fix the fields marked above to see the preview."));
        this.showErrors(err, false);
      }
    }
  }

  // showErrors marks the fields a problem names (clearing the others).
  private showErrors(err: ApiError | null, focus: boolean): void {
    for (const el of this.dialog.querySelectorAll<HTMLElement>(".field-error, .form-error")) {
      el.hidden = true;
      el.textContent = "";
    }
    for (const el of this.dialog.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (!err) return;
    let first: HTMLElement | null = null;
    const unplaced: string[] = [];
    for (const fe of err.problem?.errors ?? []) {
      const name = fieldOf(fe.field);
      const box = this.dialog.querySelector<HTMLElement>(`[id="err-${name}"]`);
      if (!box) {
        unplaced.push(fe.field + ": " + fe.message);
        continue;
      }
      box.hidden = false;
      box.textContent = (box.textContent ? box.textContent + " " : "") + fe.message;
      const input = this.dialog.querySelector<HTMLElement>(`[data-field="${name}"] input, [data-field="${name}"] select, [data-field="${name}"] textarea, [name="${name}"]`);
      input?.setAttribute("aria-invalid", "true");
      first ??= input ?? box;
    }
    if (unplaced.length || !(err.problem?.errors?.length)) {
      const top = $("#err-form", this.dialog);
      top.hidden = false;
      top.textContent = unplaced.length ? unplaced.join("; ") : err.message;
    }
    if (focus) (first ?? this.dialog.querySelector<HTMLElement>("#err-form"))?.focus?.();
  }

  private async save(): Promise<void> {
    const btn = $("#save", this.dialog) as HTMLButtonElement;
    btn.disabled = true;
    try {
      const t = this.task;
      if (!t) {
        const created = await api.createTask(this.body());
        this.dialog.close();
        this.onSaved(created);
        toast("Created “" + created.title + "”");
        return;
      }
      const patch = this.patch(t);
      if (Object.keys(patch).length === 0) {
        this.dialog.close();
        return;
      }
      const scope = (this.form.elements.namedItem("scope") as RadioNodeList | null)?.value ?? "task";
      if (scope === "series") {
        const seriesID = t.parent_recurring_task_id ?? t.id;
        const op = (await api.updateTask(seriesID, patch, true)) as Operation;
        this.dialog.close();
        await followOperation(op, "Updating the series");
        return;
      }
      const updated = (await api.updateTask(t.id, patch)) as Task;
      this.dialog.close();
      this.onSaved(updated);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.status === 400)) this.showErrors(err, true);
      else {
        this.showErrors(err instanceof ApiError ? err : new ApiError(0, null), true);
        const top = $("#err-form", this.dialog);
        top.hidden = false;
        top.textContent = String((err as Error).message || err);
      }
    } finally {
      btn.disabled = false;
    }
  }
}

function radio(name: string, value: string, label: string, checked: boolean): HTMLElement {
  const id = uid(name);
  return h("span", { class: "radio" }, h("input", { type: "radio", id, name, value, checked }), h("label", { for: id }, label));
}

function endRadio(name: string, value: Recurrence["end"], label: string, r: Recurrence): HTMLElement {
  const id = uid("end");
  return h("span", { class: "radio" }, h("input", { type: "radio", id, name, value, checked: r.end === value, onchange: () => { r.end = value; } }), h("label", { for: id }, label));
}

// followOperation shows a series operation's progress until its workflow
// finishes.
export async function followOperation(op: Operation, what: string): Promise<Operation> {
  const bar = h("progress", { max: 1, value: 0, "aria-label": what });
  const text = h("span", {}, what + "…");
  const t = toast(h("span", { class: "progress" }, text, bar), { timeoutMs: 0 });
  t.el.dataset.operation = op.id;
  for (let i = 0; i < 600; i++) {
    if (op.total !== null) {
      bar.max = Math.max(1, op.total);
      bar.value = op.done;
      text.textContent = what + ": " + op.done + " of " + op.total;
    }
    if (op.status === "completed" || op.status === "failed") break;
    await new Promise((r) => setTimeout(r, 400));
    op = await api.operation(op.id);
  }
  t.close();
  if (op.status === "failed") toast(what + " failed: " + (op.error ?? "unknown error"), { kind: "error", timeoutMs: 10000 });
  else {
    const done = Object.entries(op.result ?? {}).map(([k, v]) => v + " " + k).join(", ");
    toast(what + ": done" + (done ? " (" + done + ")" : ""), { timeoutMs: 6000 });
  }
  return op;
}
