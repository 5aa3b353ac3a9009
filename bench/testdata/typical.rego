# The typical 10-rule set of policy/testdata/typical.yaml in Rego.
package gonaut

import rego.v1

decision := {"deny": deny, "allows": allows}

deny contains "deny-high-risk" if input.risk.score >= 80

deny contains "deny-unencrypted" if {
	input.resource.labels.env == "prod"
	not input.device.disk_encrypted
}

deny contains "deny-embargo" if input.source.country in {"KP", "IR"}

allows contains "eng-prod" if {
	input.resource.kind == "tcp"
	glob.match("db-*", [], input.resource.name)
	"eng" in input.subject.groups
	input.device.managed
	net.cidr_contains("10.0.0.0/8", input.source.ip)
}

allows contains "eng-office-hours" if {
	input.resource.kind == "http"
	input.resource.name in {"wiki.corp", "git.corp"}
	"eng" in input.subject.groups
	hour := time.clock([input.time_ns, "Europe/Berlin"])[0]
	hour >= 7
	hour < 20
}

allows contains "sales-crm" if {
	input.resource.kind == "http"
	input.resource.name == "crm.corp"
	"sales" in input.subject.groups
	input.device.managed
}

allows contains "admins-ssh" if {
	input.resource.kind == "tcp"
	input.resource.labels.role == "server"
	"admins" in input.subject.groups
	input.subject.mfa
	input.resource.port == 22
}

allows contains "finance-erp" if {
	input.resource.kind == "http"
	input.resource.name == "erp.corp"
	"finance" in input.subject.groups
	input.device.disk_encrypted
}

allows contains "everyone-intranet" if {
	input.resource.kind == "http"
	input.resource.name == "intranet.corp"
}

allows contains "oncall-any-prod" if {
	input.resource.labels.env == "prod"
	"oncall" in input.subject.groups
	input.subject.mfa
}
