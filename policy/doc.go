// Package policy is Gonaut's policy engine: it decides whether a request —
// a subject on a device, from a source, for a resource, at a time, with a
// risk score — may reach a resource. Policies are YAML documents of allow
// and deny rules whose conditions are CEL expressions; they compile once
// into an immutable Set that decides many requests, concurrently and fast.
//
// # Documents
//
// A document has rules, tests, and an optional description:
//
//	description: Engineers reach production databases with MFA
//	rules:
//	  - id: deny-high-risk            # unique in the set; [A-Za-z0-9_.:/-]
//	    description: Block hostile-looking sessions
//	    effect: deny                  # allow or deny
//	    when: risk.score >= 80        # CEL; absent means true
//	    obligations: {log: true}
//	  - id: eng-prod-db
//	    effect: allow
//	    resources:                    # absent: every resource
//	      kind: tcp                   # one kind or a list
//	      names: ["db-*.prod"]        # globs: * any run, ? one character
//	      labels: {env: prod}         # all must be equal
//	    when: |
//	      "eng" in subject.groups && device.managed &&
//	      cidr("10.0.0.0/8").containsIP(source.ip)
//	    obligations:
//	      require_mfa: true
//	      max_session: 8h
//	      log: true
//	tests:
//	  - name: engineer on a managed laptop in the office
//	    request:                      # the request JSON form (see Request)
//	      subject: {groups: [eng], mfa: true}
//	      device: {managed: true}
//	      source: {ip: 10.1.2.3}
//	      resource: {kind: tcp, name: db-main.prod, labels: {env: prod}}
//	    expect: allow
//	    rule: eng-prod-db             # optional: the rule that must decide
//
// Unknown keys, wrong types, YAML aliases, nesting deeper than 32 levels and
// documents over [MaxDocumentBytes] are errors. Every problem is reported as
// a [Diagnostic] with file, line and column, CEL errors included.
//
// # Variables
//
// Conditions see six variables, typed by the Go structs of this package
// (field names in conditions are the json names):
//
//   - subject ([Subject]): id, email, groups, roles, mfa, auth_time, attributes
//   - device ([Device]): id, os, os_version, managed, disk_encrypted,
//     firewall, screen_lock, client_version, posture_time, posture_source
//     ("person" when a console user typed the posture, "device" when it
//     was reported), attributes
//   - source ([Source]): ip (text; use cidr(...).containsIP(source.ip) or
//     ip(source.ip)), country, asn
//   - resource ([Resource]): kind, name, labels, address, port; method, path,
//     host, headers for http; vendor_id, product_id, serial, bus_id for usb;
//     serial_port for serial
//   - time: a timestamp; time.getHours("Europe/Berlin") and the other
//     timestamp functions take IANA zone names (the zone database is
//     embedded)
//   - risk ([Risk]): score (0–100), signals
//
// Besides standard CEL, conditions may use the network (ip, cidr), strings,
// sets and lists extensions. Reading a missing map key is an evaluation
// error; guard it with "key" in map or has(). An unset timestamp field
// (auth_time, posture_time) reads as 1970-01-01T00:00:00Z, so a condition
// such as time - device.posture_time > duration("24h") holds for a device
// that never reported its posture.
//
// # Semantics
//
// Deny overrides allow, and without a matching allow rule a request is
// denied. A rule matches when its resource selector and its condition both
// hold. A condition that fails to evaluate — a missing key, the cost limit, a
// cancelled context — never allows, and a deny rule whose condition fails
// denies: the engine fails closed. Conditions are evaluated as CEL defines
// them, with no constant folding: x in [] fails when x does, as does
// "a" in ["a", x]. Only where CEL itself says so (&&, ||, ?: and the
// exists and all macros) does a decided result absorb a failing part. The [Decision] names the deciding rule
// (the first matching deny rule, else the first matching allow rule), lists
// every matching rule, merges the obligations of the matching rules of the
// deciding effect (require_mfa and log if any asks, the shortest
// max_session), keeps the evaluation errors, and explains itself in a
// sentence (Decision.Explain). Obligations are for the enforcer to apply:
// an allow that requires MFA for a subject without it is the enforcer's to
// refuse or step up.
//
// # Tests, templates and simulation
//
// A document's tests run against the whole set at every compile; a set
// whose tests fail is not built, and an [Engine] keeps the set it had. Use
// [Set.Tests] to see each result. [Templates] returns the embedded starting
// policies (enterprise, small-business, iot), each with its own tests.
// [Simulate] decides past requests with a current and a candidate set and
// reports every request whose effect or deciding rule would change.
//
// # Performance and limits
//
// Rules are indexed by resource kind and exact name, so a decision
// evaluates only the rules that can select the resource: decision time
// stays flat as a set grows with rules about other resources. Rules with
// glob names are checked one by one. Each condition's worst-case cost is
// estimated at compile time, assuming request lists of up to 256 entries
// and strings of up to 4 KiB, and rejected above [CompileOptions].MaxCost.
// Conditions whose cost grows faster than linearly with the request (nested
// loops) are also held to that limit at run time.
//
// # Concurrency
//
// A [Set] is immutable and safe for concurrent use. An [Engine] swaps sets
// atomically; a decision in flight finishes with the set it started with.
// Decide never modifies the Request it is given.
package policy
