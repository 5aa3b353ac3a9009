package store

import (
	"context"
	"strings"
)

// maxNameBatch bounds how many ids one DisplayNames call looks up at
// once, to keep the statement under every driver's parameter limit.
const maxNameBatch = 500

// DisplayNames maps the user, device and gateway ids among ids to what
// a person knows them by: a user's email, a device's name, a gateway's
// name; and an API key's actor, "apikey:<key id>", to "apikey:<name>".
// Ids it does not know (and anything that is not an id) are left
// out of the map. One statement per maxNameBatch ids: callers pass a
// whole page's ids at once rather than asking row by row.
func (s *DB) DisplayNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for len(uniq) > 0 {
		n := min(len(uniq), maxNameBatch)
		batch := uniq[:n]
		uniq = uniq[n:]
		in := placeholders(len(batch))
		args := make([]any, 0, 4*len(batch))
		for range 4 {
			for _, id := range batch {
				args = append(args, id)
			}
		}
		rows, err := s.query(ctx, s.db, `SELECT id, email FROM users WHERE id IN (`+in+`)
			UNION ALL SELECT id, name FROM devices WHERE id IN (`+in+`)
			UNION ALL SELECT id, name FROM gateways WHERE id IN (`+in+`)
			UNION ALL SELECT 'apikey:' || id, 'apikey:' || name FROM api_keys WHERE 'apikey:' || id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
			out[id] = name
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap(err)
		}
	}
	return out, nil
}

// NameIDs returns the ids of the users whose email is name
// (case-insensitively), of the devices and of the gateways called name,
// and for "apikey:<name>" the actors of the API keys called name:
// what a filter by a person's word for a subject has to look for. None
// when nothing is called that.
func (s *DB) NameIDs(ctx context.Context, name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	rows, err := s.query(ctx, s.db, `SELECT id FROM users WHERE email = ?
		UNION ALL SELECT id FROM devices WHERE name = ?
		UNION ALL SELECT id FROM gateways WHERE name = ?
		UNION ALL SELECT 'apikey:' || id FROM api_keys WHERE 'apikey:' || name = ?`, strings.ToLower(name), name, name, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, id)
	}
	return out, s.wrap(rows.Err())
}
