package domain

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The REST API's rate limits are settings of each tenant: how many
// requests one API key, one user (through her sessions and the keys she
// owns) and one client address may make per period. The console's
// transport counts the requests; these are the numbers it counts against.
const (
	// SettingAPIRateKey limits the API requests of one API key.
	SettingAPIRateKey = "api.rate_limit.key"
	// SettingAPIRateUser limits the API requests of one user, made with
	// a session or with any key she owns, together.
	SettingAPIRateUser = "api.rate_limit.user"
	// SettingAPIRateAddress limits the API requests from one client
	// address (an IPv6 client counts by its /64), whatever credential
	// they carry.
	SettingAPIRateAddress = "api.rate_limit.address"
)

// The limits of a tenant that sets none: generous for a script or a
// busy page, far below what one client can send.
var (
	DefaultAPIRateKey     = RateLimit{N: 600, Per: time.Minute}
	DefaultAPIRateUser    = RateLimit{N: 600, Per: time.Minute}
	DefaultAPIRateAddress = RateLimit{N: 1200, Per: time.Minute}
)

// Bounds of a RateLimit: at most maxRateN requests per period, and a
// period of whole seconds from one second to a day.
const (
	maxRateN   = 1_000_000
	minRatePer = time.Second
	maxRatePer = 24 * time.Hour
)

// A RateLimit is N requests per period Per: a bucket of N requests that
// refills at N per Per, so that N may come at once and then one every
// Per/N. The zero value (N 0) is no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// Off reports whether l limits nothing.
func (l RateLimit) Off() bool { return l.N == 0 }

// String is l as ParseRateLimit reads it: "600/1m0s", or "off".
func (l RateLimit) String() string {
	if l.Off() {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Per.String()
}

// ParseRateLimit parses a rate limit setting: "N/period", N requests
// from 1 to 1,000,000 per a Go duration of whole seconds from 1s to 24h
// ("600/1m", "50/10s"), or "0" or "off" for no limit.
func ParseRateLimit(v string) (RateLimit, error) {
	v = strings.TrimSpace(v)
	if v == "0" || strings.EqualFold(v, "off") {
		return RateLimit{}, nil
	}
	bad := func(why string) (RateLimit, error) {
		return RateLimit{}, fmt.Errorf("rate limit %q: %s; write requests/period such as 600/1m, or off", v, why)
	}
	ns, per, ok := strings.Cut(v, "/")
	if !ok {
		return bad("no period")
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 || n > maxRateN {
		return bad("the number of requests is not from 1 to 1000000")
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d < minRatePer || d > maxRatePer || d%time.Second != 0 {
		return bad("the period is not a duration of whole seconds from 1s to 24h")
	}
	return RateLimit{N: n, Per: d}, nil
}

// APIRateLimits are a tenant's limits on its REST API.
type APIRateLimits struct {
	Key, User, Address RateLimit
}

// APIRateLimits reads the tenant's API rate limits; an unset setting,
// or a stored one ParseRateLimit refuses, is the default. It reads the
// store: a caller on every request caches it.
func (s *Service) APIRateLimits(ctx context.Context) APIRateLimits {
	read := func(key string, def RateLimit) RateLimit {
		l, err := ParseRateLimit(s.Setting(ctx, key, ""))
		if err != nil {
			return def
		}
		return l
	}
	return APIRateLimits{
		Key:     read(SettingAPIRateKey, DefaultAPIRateKey),
		User:    read(SettingAPIRateUser, DefaultAPIRateUser),
		Address: read(SettingAPIRateAddress, DefaultAPIRateAddress),
	}
}

// checkRateLimit is the settings check of a rate limit setting.
func checkRateLimit(key string) func(string) error {
	return func(v string) error {
		if _, err := ParseRateLimit(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
}
