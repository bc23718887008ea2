# METADATA
# title: No denied packages
# description: >-
#   Fails for each component on the deny-list `settings.supply_chain.denied_packages` (default
#   empty). An entry is a string or an object `{package, version, reason}`. `package` is a
#   package URL without version (`pkg:npm/event-stream`), a purl prefix ending in `/`
#   (`pkg:maven/org.example.evil/`), or a bare name (`event-stream`, any ecosystem). A version
#   (`pkg:npm/event-stream@3.3.6`, `event-stream@3.3.6` or `version:`) limits the entry to
#   that exact version. Matching ignores case.
# custom:
#   id: GK-SC-001
#   severity: critical
#   requires: [sbom]
#   controls: [PW.4.1, PW.4.4, CC7.1]
#   remediation: >-
#     Remove the component or move to a version that is not denied; the reason in the message
#     says why it is denied (e.g. a compromised release or an abandoned package).
package gatekeeper.supply_chain.denied

import data.gatekeeper.lib

raw_entries := object.get(lib.settings, ["supply_chain", "denied_packages"], [])

# Every entry normalized to {kind, key, version, reason, text}; kind is purl, prefix or name.
entries := [entry | some raw in raw_entries; entry := normalize(raw)]

normalize(raw) := entry if {
	is_string(raw)
	entry := split_entry(raw, null, null)
}

normalize(raw) := entry if {
	is_object(raw)
	entry := split_entry(object.get(raw, "package", ""), object.get(raw, "version", null), object.get(raw, "reason", null))
}

# "pkg:npm/x@1.2" -> key "pkg:npm/x", version "1.2"; "x@1.2" and "@scope/x@1.2" likewise
# (the last "@" after the first character starts the version).
split_entry(text, version, reason) := entry if {
	count(at_signs(text)) == 0
	key := lower(text)
	entry := {"kind": entry_kind(key), "key": key, "version": version, "reason": reason, "text": text}
}

split_entry(text, _, reason) := entry if {
	count(at_signs(text)) > 0
	cut := max(at_signs(text))
	key := lower(substring(text, 0, cut))
	version := substring(text, cut + 1, -1)
	entry := {"kind": entry_kind(key), "key": key, "version": version, "reason": reason, "text": text}
}

at_signs(text) := [i | some i in indexof_n(text, "@"); i > 0]

entry_kind(key) := "prefix" if regex.match(`^pkg:.*/$`, key)

else := "purl" if startswith(key, "pkg:")

else := "name"

# Indexes built once, so each component costs a lookup, not a pass over the list.
purl_entries[key] contains entry if {
	some entry in entries
	entry.kind == "purl"
	key := entry.key
}

name_entries[key] contains entry if {
	some entry in entries
	entry.kind == "name"
	key := entry.key
}

prefix_entries := [entry | some entry in entries; entry.kind == "prefix"]

# Entries matching each component, by position: one pass over the components per kind of
# entry, each an index lookup (or a short loop over the few prefix entries).
matches[i] contains entry if {
	count(purl_entries) > 0
	some i, component in input.components
	component.purl != null
	base := lower(data.gatekeeper.lib.purl_base(component.purl))
	some entry in purl_entries[base]
}

matches[i] contains entry if {
	count(prefix_entries) > 0
	some i, component in input.components
	component.purl != null
	base := lower(data.gatekeeper.lib.purl_base(component.purl))
	some entry in prefix_entries
	startswith(base, entry.key)
}

matches[i] contains entry if {
	count(name_entries) > 0
	some i, component in input.components
	some entry in name_entries[lower(component.name)]
}

version_matches(entry, _) if entry.version == null

version_matches(entry, version) if entry.version == version

deny contains result if {
	some i, found in matches
	component := input.components[i]
	version := object.get(component, "version", null)
	hits := [entry | some entry in found; version_matches(entry, version)]
	count(hits) > 0

	name_at_version := concat("@", [x | some x in [component.name, version]; x != null])
	target_options := {true: component.purl, false: name_at_version}
	target := target_options[component.purl != null]
	reasons := sort([r | some entry in hits; r := entry.reason; is_string(r)])
	because_options := {true: "is on the denied-package list", false: concat("", ["is a denied package: ", concat("; ", reasons)])}
	because := because_options[count(reasons) == 0]
	result := {
		"msg": concat("", [target, " ", because, ". Remove it or use a version that is not denied"]),
		"subject": target,
		"evidence": {"denied_by": sort([entry.text | some entry in hits]), "reasons": reasons},
	}
}
