# METADATA
# title: Helpers for the EU AI Act policies
# description: >-
#   Not a policy (no deny or warn rules). When the AI Act's obligations apply under the
#   spec's declared date set (compliance.dates): the Annex III high-risk obligations from
#   2 Aug 2026 as enacted, or 2 Dec 2027 under the Digital Omnibus; Art 50's transparency
#   duties from 2 Aug 2026 in both.
package cairn.ai_act

import data.cairn.util

# declared holds when the specs declare compliance with the EU AI Act.
declared if "eu-ai-act" in input.bundle.compliance.frameworks

high_risk_from := "2027-12-02" if input.bundle.compliance.dates == "omnibus"

high_risk_from := "2026-08-02" if input.bundle.compliance.dates != "omnibus"

transparency_from := "2026-08-02"

# applies(date) holds from that date on, judged at input.now: from 00:00 UTC of the date, so
# today's start tells as well as the time does (and changes once a day: policies/clock.go).
applies(date) if util.today_ns >= util.date_ns(date)

# high_risk_systems are the systems listed in Annex III and not exempted.
high_risk_systems[name] := s if {
	declared
	some name, s in input.bundle.compliance.systems
	s.high_risk
}

# when renders "from D" or "applies from D; a warning until then".
when(date) := sprintf("in force since %s", [date]) if applies(date)

when(date) := sprintf("applies from %s; a warning until then", [date]) if not applies(date)
