// Package recurrence holds TaskFlow's recurrence rules: which patterns a
// recurring task may have and when its instances fall due. It imports no
// Dapr, Fiber or pgx code; rules are expanded with
// github.com/teambition/rrule-go.
//
// A recurring series is a task with a due_date (the series' start), a
// recurrence_pattern, an optional inclusive recurrence_end_date and an IANA
// time zone (LoadLocation). Parse binds a pattern to those (Options) and
// returns a Rule; an instance of the series is created at each occurrence
// (Mode Schedule) or one interval after the previous one was completed
// (Mode FromCompletion, Rule.AddInterval). Every time a Rule returns is in
// UTC, ready to store.
//
// # Patterns
//
// A pattern is a shorthand or an RFC 5545 RRULE, at most MaxPatternLen
// bytes. The shorthand is case-insensitive and surrounding spaces are
// ignored:
//
//	daily:              every day                   FREQ=DAILY
//	weekly:mon,wed,fri  on those weekdays           FREQ=WEEKLY;BYDAY=MO,WE,FR
//	weekly:             on the start's weekday      FREQ=WEEKLY
//	weekdays:           Monday to Friday            FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
//	monthly:15          on the 15th (also 1,15)     FREQ=MONTHLY;BYMONTHDAY=15
//	monthly:last        on the last day             FREQ=MONTHLY;BYMONTHDAY=-1
//	monthly:            on the start's day          FREQ=MONTHLY
//	yearly:03-14        on 14 March (MM-DD)         FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14
//	yearly:             on the start's date         FREQ=YEARLY
//
// An interval goes after a slash: weekly/2:mon (every other Monday),
// daily/3:, monthly/6:last. Weekdays may be written mon, monday or mo. The
// colon may be left out when nothing follows it (daily).
//
// An RRULE may start with "RRULE:" and is case-insensitive. It has FREQ
// (SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY) and
// optionally INTERVAL, COUNT or UNTIL, BYMONTH, BYWEEKNO, BYYEARDAY,
// BYMONTHDAY (negative counts from the end: -1 is the last day), BYDAY (with
// ordinals such as 2MO or -1FR for MONTHLY and YEARLY), BYHOUR, BYMINUTE,
// BYSECOND, BYSETPOS and WKST, combined as RFC 5545 allows (BYWEEKNO only
// with YEARLY, no BYMONTHDAY with WEEKLY, no BYYEARDAY with DAILY, WEEKLY or
// MONTHLY, BYSETPOS only with another BYxxx). Refused, with a message that
// names the part and says why: DTSTART and TZID (the series starts at
// due_date in its time zone), RDATE, EXDATE and EXRULE, unknown parts,
// COUNT together with UNTIL, COUNT or INTERVAL below 1, values out of
// range, BYDAY mixing plain and numbered days, and a numbered day a month
// cannot have (6MO). UNTIL is a UTC time (20261231T235959Z), a wall-clock
// time in the series' zone (20261231T235959) or a date, meaning through
// the end of that day in the series' zone (20261231).
//
// Rule.RRule gives the canonical RRULE a pattern means, parts in a fixed
// order and lists sorted: "monthly:last" is "FREQ=MONTHLY;BYMONTHDAY=-1".
//
// # Occurrences
//
// Occurrences are at or after the start and at or before the end, the
// earlier of recurrence_end_date and UNTIL (both inclusive). The start's
// wall-clock time in the series' zone is the time of day of every
// occurrence unless BYHOUR, BYMINUTE or BYSECOND say otherwise, and the
// start's weekday, day and month fill in what the rule leaves open, as in
// RFC 5545. The start is truncated to whole seconds. A rule whose end comes
// before its first occurrence is refused.
//
//   - COUNT counts occurrences at or after the start; the start itself
//     counts only when it matches the rule (FREQ=WEEKLY;BYDAY=MO;COUNT=3
//     from a Thursday gives the next three Mondays). COUNT is at most
//     MaxCount.
//   - BYMONTHDAY=31 skips months without a 31st and yearly:02-29 occurs in
//     leap years only (RFC 5545); monthly:last is every month's last day.
//   - BYSETPOS picks from each period's set: FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,
//     FR;BYSETPOS=-1 is the last weekday of each month.
//
// # Time zones and DST
//
// Rules run on the wall clock of the series' zone: a daily 09:00 in
// America/New_York stays 09:00 local across DST changes, so its UTC instant
// moves by an hour (14:00Z in winter, 13:00Z in summer); the same holds for
// weekly, monthly and yearly rules, and hourly, minutely and secondly ones
// count wall-clock hours, minutes and seconds.
//
// A wall-clock time that does not exist (skipped by spring forward) or
// exists twice (fall back) becomes the instant time.Date gives: Go takes
// the offset in force at the wall-clock reading read as UTC. West of
// Greenwich a skipped time moves an hour back and an ambiguous one is its
// first, daylight-saving instance (America/New_York: 02:30 on 8 March 2026
// is 01:30 EST, 06:30Z; 01:30 on 1 November 2026 is 01:30 EDT, 05:30Z).
// East of it a skipped time moves an hour forward and an ambiguous one is
// its second, standard-time instance (Europe/Berlin: 02:30 on 29 March 2026
// is 03:30 CEST, 01:30Z; 02:30 on 25 October 2026 is 02:30 CET, 01:30Z).
//
// Occurrences are strictly increasing: one that would not come after the
// previous one by at least MinInterval (less the spring-forward shift, if
// one lies between the two) is dropped. Only steps falling into a skipped
// hour can cause that: FREQ=HOURLY gives nothing new for the skipped hour
// and, on the fall-back day, one occurrence two hours after the previous.
//
// # Flood protection and bounds
//
// Parse refuses a rule whose occurrences can come closer than
// Options.MinInterval (DefaultMinInterval when 0), judged on the wall
// clock: by its period, FREQ times INTERVAL (a month counted as 28 days, a
// year as 365), and by the gaps between its first 200 occurrences
// (FREQ=MINUTELY;BYSECOND=0,30 is refused under the one-minute default).
//
// Every expansion is bounded, and a rule that never occurs, or too rarely
// to expand cheaply, is refused within milliseconds:
//
//   - A series has no occurrence more than Horizon (100) years after its
//     start, nor after 9999-12-31T23:59:59Z; Parse refuses a rule with no
//     occurrence before then ("never occurs").
//   - Day filters that no date satisfies (FREQ=YEARLY;BYMONTH=2;
//     BYMONTHDAY=30, FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4) are found by one
//     expansion over a whole 400-year Gregorian cycle, and a BYSETPOS beyond
//     every period's set (FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6) by counting.
//   - A sub-daily rule whose steps never land on its BYHOUR, BYMINUTE or
//     BYSECOND (FREQ=HOURLY;INTERVAL=6;BYHOUR=5 from 09:00) would make
//     rrule-go loop forever and is refused, as is one that lands there less
//     than once in 1,440 steps.
//   - A sub-daily rule with day filters is searched day by day; a walk that
//     finds its steps on a rejected day more than 400 times ends there
//     (FREQ=HOURLY;INTERVAL=168;BYDAY=MO from a Thursday is refused).
//   - INTERVAL is at most one Horizon long, COUNT at most MaxCount, and
//     Rule.Missed counts up to MaxMissed.
//   - rrule-go walks from DTSTART to the year 9999 when nothing matches;
//     the package never lets it: it expands from the period of the time
//     asked about, in windows of at most 400 years (see expand.go). A
//     failure or panic inside rrule-go ends an expansion; Parse reports it.
//
// Rule.AddInterval adds one period (FREQ times INTERVAL) on the wall clock
// for the from_completion mode; a month or year step from a day the target
// month lacks clamps to its last day: 31 January + 1 month is 28 February
// (29 in a leap year).
package recurrence
