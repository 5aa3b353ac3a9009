package store

import "strings"

// tenantTables are the tables of a tenant's store: every one that the
// migrations create. In a tenant's PostgreSQL store, which shares the
// root's connection pool, every query names them qualified with the
// tenant's schema (qualify); TestTenantTablesListed keeps this list
// equal to what the migrations create, so that a new table cannot be
// left unqualified and read the default tenant's rows.
var tenantTables = map[string]bool{
	"schema_migrations": true, "config_version": true, "users": true, "groups": true,
	"devices": true, "resources": true, "policies": true, "policy_versions": true,
	"gateways": true, "audit_head": true, "audit": true, "alerts": true, "api_keys": true, "identity_providers": true,
	"settings": true, "sessions": true, "audit_blocks": true, "login_failures": true,
	"audit_checkpoints": true,
}

// qualify rewrites every unqualified name of a tenant table in query,
// outside quoted strings and identifiers, as schema.table. No column of
// the schema is named like a table, so a bare table name in the store's
// SQL is always the table.
func qualify(query, schema string) string {
	var b strings.Builder
	b.Grow(len(query) + 64)
	prefix := quoteIdent(schema) + "."
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) && query[j] != c {
				j++
			}
			if j < len(query) {
				j++
			}
			b.WriteString(query[i:j])
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(query) && isIdentPart(query[j]) {
				j++
			}
			word := query[i:j]
			if tenantTables[strings.ToLower(word)] && (i == 0 || query[i-1] != '.') {
				b.WriteString(prefix)
			}
			b.WriteString(word)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '$' }
