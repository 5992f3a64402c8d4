package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func markScheduleDone(ctx context.Context, tx *sql.Tx, id, at int64) error {
	if id == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE schedules SET done_at = ? WHERE schedule_id = ? AND done_at = 0`, max(at, 1), id)
	return wrap("schedule done", err)
}

// PendingSchedules implements dialer.EngineStore.
func (s *EngineStore) PendingSchedules(ctx context.Context) ([]dialer.Schedule, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT schedule_id, tenant_id, created_by, action, target_id, run_at
		FROM schedules WHERE done_at = 0 ORDER BY run_at, schedule_id`)
	if err != nil {
		return nil, fmt.Errorf("store: pending schedules: %w", err)
	}
	var out []dialer.Schedule
	for rows.Next() {
		var sc dialer.Schedule
		var runAt int64
		if err := rows.Scan(&sc.ID, &sc.TenantID, &sc.CreatedBy, &sc.Action, &sc.TargetID, &runAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: pending schedules: %w", err)
		}
		sc.RunAt = time.Unix(runAt, 0)
		out = append(out, sc)
	}
	return out, errors.Join(rows.Close(), rows.Err())
}

// ScheduleDone implements dialer.EngineStore.
func (s *EngineStore) ScheduleDone(ctx context.Context, id int64, at time.Time) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error { return markScheduleDone(ctx, tx, id, at.Unix()) })
}

func insertSchedule(ctx context.Context, tx *sql.Tx, sc dialer.Schedule) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO schedules (tenant_id, created_by, action, target_id, run_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, sc.TenantID, sc.CreatedBy, sc.Action, sc.TargetID, sc.RunAt.Unix(), time.Now().Unix())
	if err != nil {
		return 0, fmt.Errorf("store: insert schedule: %w", err)
	}
	return res.LastInsertId()
}

// AddSchedule implements dialer.EngineStore.
func (s *EngineStore) AddSchedule(ctx context.Context, sc dialer.Schedule) (int64, error) {
	var id int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		id, err = insertSchedule(ctx, tx, sc)
		return err
	})
	return id, err
}

// DropSchedules implements dialer.EngineStore.
func (s *EngineStore) DropSchedules(ctx context.Context, tenantID string, actions []string, targetID int64) ([]int64, error) {
	var ids []int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		ids, err = dropSchedules(ctx, tx, tenantID, actions, targetID)
		return err
	})
	return ids, err
}

func dropSchedules(ctx context.Context, tx *sql.Tx, tenantID string, actions []string, targetID int64) ([]int64, error) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(actions)), ", ")
	args := []any{tenantID, targetID}
	for _, a := range actions {
		args = append(args, a)
	}
	return column[int64](ctx, tx, "drop schedules", `DELETE FROM schedules WHERE tenant_id = ? AND target_id = ? AND done_at = 0
		AND action IN (`+marks+`) RETURNING schedule_id`, args...)
}

func transmissionStatusTx(ctx context.Context, tx *sql.Tx, tenantID string, id int64) (dialer.TransmissionStatus, error) {
	var st string
	err := tx.QueryRowContext(ctx, `SELECT status FROM transmissions WHERE tenant_id = ? AND transmission_id = ?`, tenantID, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", dialer.NotFound("transmission")
	}
	if err != nil {
		return "", fmt.Errorf("store: transmission status: %w", err)
	}
	return dialer.TransmissionStatus(st), nil
}

// QueueTransmission implements dialer.EngineStore.
func (s *EngineStore) QueueTransmission(ctx context.Context, tenantID string, id int64, at time.Time, createdBy int64) (int64, error) {
	var scheduleID int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := transmissionStatusTx(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		switch st {
		case dialer.TransmissionPending:
		case dialer.TransmissionProcessing:
			return dialer.Conflict("the transmission is being attempted now")
		default:
			return dialer.Conflict("the transmission is " + string(st) + "; retry or clone it to send it again")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transmissions SET due_at = ?, updated_at = ? WHERE transmission_id = ?`,
			unixMS(at), time.Now().Unix(), id); err != nil {
			return fmt.Errorf("store: queue transmission: %w", err)
		}
		if createdBy == 0 {
			return nil
		}
		// One open schedule per transmission: a new one replaces the old.
		if _, err := dropSchedules(ctx, tx, tenantID, []string{dialer.ScheduleTransmissionSend}, id); err != nil {
			return err
		}
		scheduleID, err = insertSchedule(ctx, tx, dialer.Schedule{TenantID: tenantID, CreatedBy: createdBy,
			Action: dialer.ScheduleTransmissionSend, TargetID: id, RunAt: at})
		return err
	})
	return scheduleID, err
}

// RetryTransmission implements dialer.EngineStore.
func (s *EngineStore) RetryTransmission(ctx context.Context, tenantID string, id int64, now time.Time) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := transmissionStatusTx(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if st != dialer.TransmissionFailed && st != dialer.TransmissionInvalid {
			return dialer.Conflict("only a failed or invalid transmission can be retried; this one is " + string(st))
		}
		_, err = tx.ExecContext(ctx, `UPDATE transmissions SET status = 'pending', try_allowed = MAX(try_allowed, try_done + 1),
			due_at = ?, updated_at = ? WHERE transmission_id = ?`, unixMS(now), now.Unix(), id)
		return wrap("retry transmission", err)
	})
}

// UnqueueTransmission implements dialer.EngineStore.
func (s *EngineStore) UnqueueTransmission(ctx context.Context, tenantID string, id int64) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := transmissionStatusTx(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if _, err := dropSchedules(ctx, tx, tenantID, []string{dialer.ScheduleTransmissionSend}, id); err != nil {
			return err
		}
		if st != dialer.TransmissionPending {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE transmissions SET due_at = 0, updated_at = ? WHERE transmission_id = ?`, time.Now().Unix(), id)
		return wrap("unqueue transmission", err)
	})
}
