// The shapes of the API's JSON (see GET /api/v1/openapi.json, the contract).

export type Priority = "none" | "low" | "medium" | "high";

export interface Reminder {
  id: string;
  offset?: string | null;
  at?: string | null;
}

export interface ReminderSpec {
  offset?: string;
  at?: string;
}

export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string;
  completed: boolean;
  completed_at: string | null;
  priority: Priority;
  tags: string[];
  due_date: string | null;
  recurrence_pattern: string | null;
  recurrence_end_date: string | null;
  parent_recurring_task_id: string | null;
  occurrence_date: string | null;
  reminder_offset: string | null;
  reminder_status: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  timezone: string | null;
  recurrence_mode: string | null;
  reminders: Reminder[];
}

export interface TaskBody {
  title?: string;
  description?: string | null;
  priority?: Priority;
  tags?: string[] | null;
  due_date?: string | null;
  recurrence_pattern?: string | null;
  recurrence_end_date?: string | null;
  timezone?: string | null;
  reminders?: ReminderSpec[] | null;
  fire_past_reminders?: boolean;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  correlation_id?: string;
}

export interface Alarm {
  reminder_id: string;
  task_id: string;
  type: "offset" | "absolute" | "overdue";
  offset?: string | null;
  scheduled_for: string;
  trigger_at: string;
  status: "pending" | "sent" | "cancelled";
  fired_at: string | null;
}

export interface Operation {
  id: string;
  kind: string;
  task_id: string;
  status: "pending" | "running" | "completed" | "failed";
  total: number | null;
  done: number;
  result: Record<string, number> | null;
  error: string | null;
}

export interface Counts {
  today: number;
  upcoming: number;
  overdue: number;
  open: number;
  completed: number;
  series: number;
}

export interface WebConfig {
  notifications_url: string;
  audit_url: string;
  dev_sign_in: boolean;
}

export interface Firing {
  reminder_id: string;
  reminder_type: string;
  scheduled_at: string;
  fired_at: string;
  late_ms: number;
}

// TaskEvent is the body of a notification (and of an audit row's payload).
export interface TaskEvent {
  event_id: string;
  event_type: string;
  task_id: string;
  user_id: string;
  occurred_at: string;
  correlation_id?: string;
  version: number;
  changed_fields?: string[] | null;
  task: Task;
  reminder?: Firing;
}

export interface AuditRecord {
  event_id: string;
  event_type: string;
  task_id: string;
  user_id: string;
  occurred_at: string;
  version: number;
  correlation_id: string | null;
  payload: TaskEvent;
  received_at: string;
  chain_seq: number;
}

export interface Verification {
  valid: boolean;
  events: number;
  first_broken_event_id?: string;
  reason?: string;
}
