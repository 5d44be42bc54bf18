// Package quickadd reads a task typed in one line of English, such as
//
//	Pay rent on the 1st of every month at 9am, remind me a day before #home !high
//
// into the fields of a task.Draft: title "Pay rent", the first occurrence
// as due date, recurrence pattern FREQ=MONTHLY;BYMONTHDAY=1, reminder
// "1 day", priority high, tag home. It is pure: no network, no database,
// no clock of its own. Every date is relative to the now given to Parse,
// so the same text and now always give the same Result.
//
// Words are matched case-insensitively. Each recognised phrase becomes a
// Span and is cut from the title; the title keeps everything else.
//
// # Grammar
//
// Priority: !high !medium !med !low !none, !1 !2 !3 (high, medium, low),
// p1 p2 p3 p4 (high, medium, low, none), "high priority", "priority low".
// The first one counts; a second stays in the title.
//
// Tags: #word of letters, digits, - and _, lower-cased and de-duplicated.
// A word must hold a letter: "issue #42" keeps its number (task tags
// would accept "42", but a number after # is far more often a reference).
// Tags longer than task.MaxTagLen, and tags beyond task.MaxTags, stay in
// the title.
//
// Due dates, optionally introduced by on, by, due, due on, due by:
//
//	today, tonight, tomorrow, the day after tomorrow
//	friday, this friday, on fri, next friday, friday next week
//	in 3 days, in 2 weeks, in 3 months, in a year, 3 days from now
//	in 30 minutes, in an hour, in half an hour, in 1 hour 30 minutes, in 2h
//	next week, next month, next year, this weekend, next weekend
//	end of month, end of the year
//	dec 5, 5 dec, december 5th, 5th of december, dec 5 2026, the 15th
//	12/25, 12/25/2026 (US month/day), 2027-01-15
//	tomorrow morning, friday evening, this afternoon
//
// Times, optionally introduced by at, @, by, around: 9am, 9 am, 9 a.m.,
// 9:30pm, 17:00, noon, midnight, at 9, at 9 o'clock, at 9 in the morning,
// at 7 in the evening, at 9 at night; then optionally a zone: an
// abbreviation (EST, PST, CET, BST, UTC, GMT, JST, IST, …; ET, PT, CT and
// MT only in capitals) or an IANA name (Europe/Berlin). Abbreviations name
// a region, not an offset: "3pm EST" in July is 3 pm New York time.
//
// Recurrence, in the RRULE it becomes:
//
//	every day, daily                      FREQ=DAILY
//	every weekday, on weekdays            FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
//	every weekend                         FREQ=WEEKLY;BYDAY=SA,SU
//	every monday, mondays                 FREQ=WEEKLY;BYDAY=MO
//	every mon and thu                     FREQ=WEEKLY;BYDAY=MO,TH
//	every other tuesday                   FREQ=WEEKLY;INTERVAL=2;BYDAY=TU
//	every 3 days, every 2 weeks           FREQ=DAILY;INTERVAL=3, FREQ=WEEKLY;INTERVAL=2
//	weekly, biweekly, fortnightly         FREQ=WEEKLY, FREQ=WEEKLY;INTERVAL=2
//	weekly on friday, every 2 weeks on mon and fri
//	monthly, quarterly                    FREQ=MONTHLY, FREQ=MONTHLY;INTERVAL=3
//	every month on the 1st                FREQ=MONTHLY;BYMONTHDAY=1
//	on the 1st and 15th of every month    FREQ=MONTHLY;BYMONTHDAY=1,15
//	monthly on the last day               FREQ=MONTHLY;BYMONTHDAY=-1
//	last friday of the month              FREQ=MONTHLY;BYDAY=-1FR
//	every last friday, every first monday FREQ=MONTHLY;BYDAY=-1FR, BYDAY=1MO
//	first monday of every month           FREQ=MONTHLY;BYDAY=1MO
//	every year on march 14, every march 14 FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14
//	yearly, annually                      FREQ=YEARLY
//	every hour, hourly, every 8 hours     FREQ=HOURLY
//	every 15 minutes                      FREQ=MINUTELY;INTERVAL=15
//	every 30 seconds                      FREQ=SECONDLY;INTERVAL=30
//	every morning, nightly                FREQ=DAILY at 09:00, at 20:00
//
// "every" may be "each". An ordinal with a weekday is always the nth
// weekday of the month ("every second tuesday" is FREQ=MONTHLY;BYDAY=2TU);
// say "every other tuesday" for every two weeks. A series may start later:
// "every day starting next monday", "from tomorrow". It may end: "until
// June", "until dec 31", "until 2027-03-01", "till", "through", "ending";
// or after a count: "for 5 times", "5 times" (COUNT=5).
//
// Reminders: "remind me a day before", "remind me 30 minutes before",
// "remind me an hour early", "reminder 1h before", "with a reminder 15 min
// before", "remind me the day before", "remind me 1 day and 1 hour before"
// (two reminders; "1 hour 30 minutes" without "and" or a comma is one).
// Offsets are written as task.ParseOffset reads them: "1 day", "30
// minutes", "1 hour 30 minutes".
//
// # Decisions
//
//   - A date without a time is due at 09:00. Today is the exception: "today"
//     (or any date that falls on today, such as "friday" on a Friday) is due
//     at 18:00, the end of the working day as the web app's Today view has
//     it, and "tonight" at 20:00; when that hour has passed, at the next
//     whole hour, at the latest 23:59.
//   - A time without a date is today if it is still ahead, else tomorrow.
//     "midnight" is the end of the day: "at midnight" is 00:00 tomorrow,
//     "friday at midnight" 00:00 on Saturday. An explicit date with an
//     explicit time is taken as written even when it has passed ("today at
//     9am" at 10:00).
//   - A time without am/pm is on the 24-hour clock, except that the hours 1
//     to 7 written without a leading zero are afternoon or evening ("at 5"
//     is 17:00, "at 7:30" is 19:30), because tasks are rarely set for 1 to
//     7 am; write 5am or 05:00 for the morning. "tonight", "in the
//     evening", "at night" make any hour before noon pm ("tonight at 9" is
//     21:00).
//   - Weekdays: "friday" is the next Friday on or after today; on a Friday
//     it is today unless a time is given that has already passed, then a
//     week later. "next friday" is the Friday of next week (weeks start on
//     Monday): on Wednesday 5 March 2025 "friday" is 7 March and "next
//     friday" 14 March. "this friday" is "friday". "next week" is Monday of
//     next week, "next month" the 1st of next month, "next year" 1 January.
//     Abbreviations (mon, wed, sat, sun) are weekdays only after on, by,
//     due, next, this, every, until, starting, or before a time ("wed at
//     9"), so "sat in the sun" stays a title.
//   - "in 3 days", "in 2 weeks", "in 3 months" move the date on the
//     calendar (months clamp: 31 January plus a month is the last day of
//     February) and are dates without a time. "in 30 minutes", "in 2
//     hours" are instants: now plus that much elapsed time, to the minute.
//   - "dec 5", "12/25" and "the 15th" are the next such day on or after
//     today (29 February the next leap day); a year makes it exact, even in
//     the past. 12/25 is always month/day.
//   - "until June" ends the series at the last second (23:59:59) of 30 June,
//     in the year of the next June on or after today (this June while it
//     is June). "until dec 31" and "until 2027-03-01" end at 23:59:59 of
//     that day. "until" without a recurrence stays in the title and is
//     listed in Unparsed.
//   - A recurring task's due date is its first occurrence: the first time
//     the rule selects on or after now (or on or after the "starting"
//     day), at the given time, else 09:00 (the part of day for "every
//     morning"); an hourly, minutely or secondly rule without a time starts
//     at the next whole hour, minute or second (now if on one). The
//     interval counts from that first occurrence: "every other tuesday"
//     said on a Wednesday is next Tuesday, then every two weeks. Every
//     pattern is checked with recurrence.Parse (one-second minimum
//     interval, the lowest RECURRENCE_MIN_INTERVAL) and written as
//     recurrence.Rule.RRule writes it; a rule it refuses is dropped to
//     Unparsed. Under the default one-minute minimum the API refuses the
//     patterns of "every 30 seconds".
//   - Named zones: with "at 3pm EST" every date of the text is read in that
//     zone (tomorrow is tomorrow in New York), and Timezone is its name.
//   - DST: dates are built with time.Date in the zone, as the recurrence
//     package builds occurrences, so a time skipped by spring forward or
//     repeated by fall back becomes the instant time.Date gives: in
//     America/New_York 02:30 on 9 March 2025 is 01:30 EST (06:30Z), and
//     01:30 on 2 November 2025 is 01:30 EDT (05:30Z). "in 24 hours" is
//     elapsed time and so lands an hour later on the wall clock across
//     spring forward; "tomorrow" keeps the wall clock.
//   - Each field is set once: the first due date, time, recurrence and end
//     count; later ones stay in the title and are listed in Unparsed. "on"
//     is left in the title when it does not introduce a date ("Turn the
//     lights on tomorrow").
//
// github.com/olebedev/when is used only for Unparsed: it finds date-like
// phrases in what this grammar left in the title ("in a few days"). Its
// own resolution of dates is wrong too often to use (see whenHints).
package quickadd
