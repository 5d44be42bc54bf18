package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/taskflow/taskflow/task"
)

// Series returns the state of series id; found is false before its first tick.
func (s *Tasks) Series(ctx context.Context, id uuid.UUID) (st task.SeriesState, found bool, err error) {
	var last, next, ended *time.Time
	var lastInstance pgtype.UUID
	err = s.pool.QueryRow(ctx, `SELECT user_id, last_occurrence, last_instance_id, next_occurrence,
		instances_created, occurrences_skipped, ended_at FROM recurring_series WHERE task_id = $1`, pgUUID(id)).
		Scan(&st.UserID, &last, &lastInstance, &next, &st.InstancesCreated, &st.OccurrencesSkipped, &ended)
	if errors.Is(err, pgx.ErrNoRows) {
		return task.SeriesState{TaskID: id}, false, nil
	}
	if err != nil {
		return task.SeriesState{}, false, fmt.Errorf("read series %s: %w", id, err)
	}
	st.TaskID = id
	st.LastOccurrence, st.NextOccurrence, st.EndedAt = utc(last), utc(next), utc(ended)
	if lastInstance.Valid {
		u := uuid.UUID(lastInstance.Bytes)
		st.LastInstanceID = &u
	}
	return st, true, nil
}

// SaveSeries writes the state of a series.
func (s *Tasks) SaveSeries(ctx context.Context, st task.SeriesState) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO recurring_series (task_id, user_id, last_occurrence, last_instance_id,
			next_occurrence, instances_created, occurrences_skipped, ended_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
		ON CONFLICT (task_id) DO UPDATE SET last_occurrence = $3, last_instance_id = $4, next_occurrence = $5,
			instances_created = $6, occurrences_skipped = $7, ended_at = $8, updated_at = now()`,
		pgUUID(st.TaskID), st.UserID, st.LastOccurrence, pgUUIDPtr(st.LastInstanceID), st.NextOccurrence,
		st.InstancesCreated, st.OccurrencesSkipped, st.EndedAt)
	if err != nil {
		return fmt.Errorf("save series %s: %w", st.TaskID, err)
	}
	return nil
}

// Instances returns the instances of series whose occurrence is at or after
// from, in occurrence order, at most limit.
func (s *Tasks) Instances(ctx context.Context, series uuid.UUID, from time.Time, limit int) ([]task.Instance, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, occurrence_date, completed FROM tasks
		WHERE parent_recurring_task_id = $1 AND occurrence_date >= $2 ORDER BY occurrence_date LIMIT $3`,
		pgUUID(series), from, limit)
	if err != nil {
		return nil, fmt.Errorf("instances of %s: %w", series, err)
	}
	return collectInstances(rows)
}

// OpenInstances returns the ids of the series' instances that are not
// completed, in occurrence order.
func (s *Tasks) OpenInstances(ctx context.Context, series uuid.UUID) ([]task.Instance, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, occurrence_date, completed FROM tasks
		WHERE parent_recurring_task_id = $1 AND NOT completed ORDER BY occurrence_date`, pgUUID(series))
	if err != nil {
		return nil, fmt.Errorf("open instances of %s: %w", series, err)
	}
	return collectInstances(rows)
}

func collectInstances(rows pgx.Rows) ([]task.Instance, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (task.Instance, error) {
		var in task.Instance
		var id pgtype.UUID
		var occ *time.Time
		err := r.Scan(&id, &occ, &in.Completed)
		in.ID = id.Bytes
		if occ != nil {
			in.Occurrence = occ.UTC()
		}
		return in, err
	})
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
