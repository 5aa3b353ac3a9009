package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// AlertNext says, for each alert state, the states an alert in it may
// move to: an open alert may be acknowledged or resolved, an acknowledged
// one resolved, and a resolved one nothing. SetAlertState enforces it, so
// the API and the pages that offer these moves agree.
var AlertNext = map[string][]string{
	"open":         {"acknowledged", "resolved"},
	"acknowledged": {"resolved"},
	"resolved":     {},
}

// SetAlertState moves an alert to acknowledged or resolved. A state that
// is not one of AlertNext's is ErrInvalid; a move AlertNext does not
// allow from the alert's current state (acknowledging a resolved alert)
// is ErrConflict, saying why, and changes nothing. The check and the
// change are one statement, so two concurrent moves cannot both apply.
func (s *DB) SetAlertState(ctx context.Context, id, state string) error {
	if _, ok := AlertNext[state]; !ok {
		return fmt.Errorf("%w: alert state %q (open, acknowledged or resolved)", ErrInvalid, state)
	}
	var from []string
	for f, next := range AlertNext {
		for _, n := range next {
			if n == state {
				from = append(from, f)
			}
		}
	}
	if len(from) > 0 {
		args := []any{state, id}
		for _, f := range from {
			args = append(args, f)
		}
		q := `UPDATE alerts SET state = ? WHERE id = ? AND state IN (?` + strings.Repeat(",?", len(from)-1) + `)`
		r, err := s.exec(ctx, s.db, q, args...)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			return nil
		}
	}
	a, err := s.Alert(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	return fmt.Errorf("%w: the alert is %s and cannot become %s (%s)", ErrConflict, a.State, state, alertMoves)
}

// alertMoves is AlertNext in words, for a refused move.
const alertMoves = "an open alert can be acknowledged or resolved, an acknowledged one resolved, a resolved one nothing"
