# METADATA
# title: The SBOM has the NTIA minimum elements
# description: >-
#   Scores the SBOM against the NTIA minimum elements — supplier, component name, version and
#   unique identifier (purl, hashes or SBOM ref) per component, dependency relationships,
#   author and timestamp of the SBOM — and fails when the score (the mean of the seven
#   elements, each the share of components that have it, or 0/1 for SBOM-level elements) is
#   below `settings.sbom.ntia_min_score` (default 0.8). The message and the evidence give the
#   score and every incomplete element.
# custom:
#   id: GK-SBOM-002
#   severity: medium
#   requires: [sbom]
#   controls: [PS.3.2, SCVS-1.3]
#   remediation: >-
#     Configure the SBOM generator to record suppliers, versions, package URLs, the dependency
#     graph, the SBOM's author and its creation time (e.g. cyclonedx-py or syft with default
#     metadata), or fill in the missing fields in the pipeline before the gate.
package gatekeeper.sbom.ntia

import data.gatekeeper.lib

min_score := object.get(lib.settings, ["sbom", "ntia_min_score"], 0.8)

total := count(input.components)

# Dividing by at least 1: an SBOM without components scores 0 on the component elements
# (it vouches for nothing). Values are plain rules, not helper functions with else-chains: an
# earlier version written with those took 2.5 s per test on regopy 1.5.2 (which compiles the
# bundle for every test), this one about 10 ms.
divisor := max([total, 1])

# Plain comparisons only: these run once per component of SBOMs with tens of thousands.
# A component has a unique id when it has a purl, a hash or a ref; the count of those without
# any is one comprehension whose conditions stop at the first id found (a helper function with
# one definition per kind of id cost 8x as much on regorus: ~100 ms over 20,000 components).
component_counts := {
	"supplier": count([1 | some c in input.components; c.supplier != null; c.supplier != ""]),
	"name": count([1 | some c in input.components; c.name != null; c.name != ""]),
	"version": count([1 | some c in input.components; c.version != null; c.version != ""]),
	"unique_id": total - count([1 |
		some c in input.components
		not c.purl != null
		count(object.get(c, "hashes", [])) == 0
		object.get(c, "ref", null) == null
	]),
}

sbom_facts := {
	"dependencies": object.get(input.sbom, "has_dependencies", false) == true,
	"author": count(object.get(input.sbom, "authors", [])) > 0,
	"timestamp": count([t | t := object.get(input.sbom, "timestamp", null); is_string(t); trim_space(t) != ""]) > 0,
}

elements := object.union(
	{name: share | some name; share := component_counts[name] / divisor},
	{name: v | some name; present := sbom_facts[name]; v := one_if[present]},
)

one_if := {true: 1, false: 0}

score := sum([v | some v in elements]) / count(elements)

# "supplier (12% of components)", "timestamp", ...; sorted by element name.
missing := sort(array.concat(
	[name | some name; sbom_facts[name] == false],
	[text | some name; n := component_counts[name]; n < total; text := concat("", [name, " (", sprintf("%v", [round((n / divisor) * 100)]), "% of components)"])],
))

deny contains result if {
	input.sbom.present == true
	score < min_score
	score_text := sprintf("%.2f", [score])
	min_text := sprintf("%v", [min_score])
	result := {
		"msg": concat("", ["SBOM NTIA minimum-elements score is ", score_text, ", below ", min_text, "; incomplete: ", concat(", ", missing)]),
		"subject": concat(", ", object.get(input.sbom, "files", [])),
		"evidence": {
			"score": round(score * 100) / 100,
			"min_score": min_score,
			"elements": elements,
			"missing": missing,
			"components": total,
		},
	}
}
